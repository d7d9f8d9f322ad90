"""The sampled payload log: every scoring front door writes to one rotating JSONL file through
a writer thread; the request path never waits (a full queue drops and counts)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from app.core.worker import Scored
from app.main import create_app
from app.ops.metrics import Metrics
from app.ops.payload_log import PayloadLog, RotatingJsonl, payload_log
from tests.app.conftest import make_settings, serving
from tests.app.test_grpc import grpc_stub, infer_request

pytestmark = pytest.mark.anyio
V2_BODY = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["so dull"]}]}


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_every_front_door_writes_one_line_per_text(
    bundles_root: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "logs" / "payload.jsonl"
    overrides = {"payload_log": log_path, "payload_log_sample": 1.0, "payload_log_text": "text"}
    async for stub, (client, _channel, _app) in grpc_stub(bundles_root, **overrides):
        headers = {"X-Request-ID": "rest-1"}
        body = {"texts": ["a wonderful film", "dull"]}
        predicted = (await client.post("/predict", json=body, headers=headers)).json()
        v2 = await client.post("/v2/models/tiny-ko/infer", json=V2_BODY)
        assert v2.status_code == 200
        await stub.ModelInfer(infer_request(["grpc text"]), metadata=[("x-request-id", "g-1")])
        metrics = (await client.get("/metrics")).text
    lines = read_lines(log_path)  # the app has stopped: everything queued is written
    assert [(r["request_id"], r["index"], r["text"]) for r in lines] == [
        ("rest-1", 0, "a wonderful film"),
        ("rest-1", 1, "dull"),
        (v2.headers["x-request-id"], 0, "so dull"),
        ("g-1", 0, "grpc text"),
    ]
    assert [r["model"] for r in lines] == ["tiny-en", "tiny-en", "tiny-ko", "tiny-en"]
    first = predicted["predictions"][0]
    assert lines[0]["served_label"] == first["label"]
    assert lines[0]["served_probabilities"] == pytest.approx(first["probabilities"])
    assert lines[0]["model_version"] == "1.0.0" and lines[0]["time"].endswith("Z")
    # served_*: none of bulk scoring's added columns (label, p_<label>, path), so that
    # `python -m app.bulk payload.jsonl out.jsonl` runs without --prefix
    assert set(lines[0]) == {
        "time",
        "request_id",
        "model",
        "model_version",
        "index",
        "text",
        "served_label",
        "served_probabilities",
        "served_path",
    }
    assert "sentiment_payload_log_dropped_total 0.0" in metrics


@pytest.mark.parametrize("mode", ["hash", "none"])
async def test_the_text_can_be_kept_as_its_hash_or_left_out(
    bundles_root: Path, tmp_path: Path, mode: str
) -> None:
    log_path = tmp_path / "payload.jsonl"
    settings = make_settings(
        bundles_root, payload_log=log_path, payload_log_sample=1.0, payload_log_text=mode
    )
    async with serving(create_app(settings)) as client:
        assert (await client.post("/predict", json={"text": "secret words"})).status_code == 200
    (line,) = read_lines(log_path)
    assert "text" not in line
    digest = hashlib.sha256(b"secret words").hexdigest()
    assert line.get("text_sha256") == (digest if mode == "hash" else None)


async def test_off_by_default_and_no_metrics_then(bundles_root: Path) -> None:
    app = create_app(make_settings(bundles_root))
    assert app.state.service.payload_log is None
    async with serving(app) as client:
        assert (await client.post("/predict", json={"text": "fine"})).status_code == 200
        assert "payload_log" not in (await client.get("/metrics")).text


async def test_written_requests_are_counted(bundles_root: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "payload.jsonl"
    settings = make_settings(bundles_root, payload_log=log_path, payload_log_sample=1.0)
    app = create_app(settings)
    async with serving(app) as client:
        for _ in range(3):
            await client.post("/predict", json={"texts": ["one", "two"]})
        app.state.service.payload_log.drain()  # what the writer thread does every 0.2 s
        metrics = (await client.get("/metrics")).text
    assert metric(metrics, "sentiment_payload_log_written_total") == 3
    assert len(read_lines(log_path)) == 6


def scored(probabilities: list[float]) -> list[Scored]:
    return [Scored(probabilities, None, "full", 0.0, 0.0)]  # type: ignore[arg-type]


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, payload_log=tmp_path / "p.jsonl", payload_log_sample=1.0, payload_log_queue=2
    )
    payloads = PayloadLog(settings, Metrics())  # not started: nothing drains the queue
    for _ in range(5):
        payloads.offer("m", "1", ["neg", "pos"], ["text"], scored([0.2, 0.8]))
    assert payloads.dropped._value.get() == 3


def test_the_sample_rate_is_the_share_of_requests_kept(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, payload_log=tmp_path / "p.jsonl", payload_log_sample=0.25)
    payloads = PayloadLog(settings, Metrics())
    random.seed(0)
    for _ in range(2000):
        payloads.offer("m", "1", ["neg", "pos"], ["text"], scored([0.2, 0.8]))
    assert 400 <= len(payloads._queue) <= 600
    assert (
        payload_log(
            make_settings(tmp_path, payload_log=tmp_path / "p.jsonl", payload_log_sample=0.0),
            Metrics(),
        )
        is None
    )


def test_rotation_keeps_whole_lines_and_the_newest_backups(tmp_path: Path) -> None:
    path = tmp_path / "payload.jsonl"
    writer = RotatingJsonl(path, max_bytes=100, backups=2)
    lines = [
        json.dumps({"n": n, "pad": "x" * (26 - len(str(n)))}).encode() + b"\n" for n in range(12)
    ]
    assert {len(line) for line in lines} == {45}
    for start in range(0, 12, 3):
        writer.write(lines[start : start + 3])
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["payload.jsonl", "payload.jsonl.1", "payload.jsonl.2"]
    kept = [read_lines(tmp_path / name) for name in ("payload.jsonl.2", "payload.jsonl.1")]
    kept.append(read_lines(path))
    numbers = [r["n"] for records in kept for r in records]
    assert numbers == list(range(12 - len(numbers), 12))  # newest kept, in order
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    assert len(numbers) == 6  # two lines (2 x 45 bytes) per file


def test_an_existing_file_is_appended_to_and_rotated_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "payload.jsonl"
    path.write_bytes(b'{"old": 1}\n' * 9)  # 99 bytes
    writer = RotatingJsonl(path, max_bytes=100, backups=0)
    writer.write([b'{"new": 1}\n'])
    writer.close()
    assert read_lines(path) == [{"new": 1}]  # no backups: the old file went


def test_lines_are_valid_json_whatever_the_names_texts_and_numbers() -> None:
    from app.ops.payload_log import LineFormat

    answers = scored([0.5, float("nan")]) + scored([1e-9, 1.0])
    entry = (1.5e9, 'id"1', 'm"odel', "1.0\n", ["neg", 'p"os'], ['é\n"', "😀"], answers)
    first, second = (json.loads(line) for line in LineFormat("text").lines(entry))
    assert first["time"] == "2017-07-14T02:40:00.000Z"
    assert (first["request_id"], first["model"], first["model_version"]) == (
        'id"1',
        'm"odel',
        "1.0\n",
    )
    assert first["text"] == 'é\n"' and second["text"] == "😀"
    assert first["served_probabilities"] == {"neg": 0.5, 'p"os': None}  # NaN: null
    assert (first["served_label"], second["served_label"]) == ("neg", 'p"os')
