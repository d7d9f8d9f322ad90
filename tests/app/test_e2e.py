"""End to end against a real `python -m app` process (uvicorn) on a free 127.0.0.1 port."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests import support
from tests.support import server, wait_for_queue, wait_for_queue_over, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(90)]
TEXTS = ["great", "awful film", "fine", "a moving, wonderful story " * 10, "boring"]


def many_bundles(source: Path, target: Path, copies: int) -> Path:
    """tiny-en, tiny-ko and `copies` renamed copies of tiny-en: loading takes a while."""
    shutil.copytree(source, target)
    for i in range(copies):
        folder = target / f"copy-{i}"
        shutil.copytree(source / "tiny-en", folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["name"] = folder.name  # the manifest is not among the hashed files
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return target


async def predict_all(base: str, texts: list[str], concurrency: int) -> list[dict]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post("/predict", json={"text": t}) for t in texts)
        )
    assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
    return [r.json()["predictions"][0] for r in responses]


async def test_ready_flips_from_503_to_200_after_start(bundles_root: Path, tmp_path: Path) -> None:
    model_dir = many_bundles(bundles_root, tmp_path / "models", copies=40)
    with server(model_dir, tmp_path / "log") as (_process, base):
        seen = await wait_until(f"{base}/ready", 200)
        assert 503 in seen, seen
        assert seen.index(503) < seen.index(200)
        assert (await httpx.AsyncClient().get(f"{base}/health")).status_code == 200


async def test_concurrent_answers_equal_one_by_one_answers(
    bundles_root: Path, tmp_path: Path
) -> None:
    texts = [f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(200)]
    with server(bundles_root, tmp_path / "log") as (_process, base):
        await wait_until(f"{base}/ready", 200)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            one_by_one = [
                (await client.post("/predict", json={"text": t})).json()["predictions"][0]
                for t in texts
            ]
        together = await predict_all(base, texts, 200)
        metrics = httpx.get(f"{base}/metrics").text
    for alone, batched in zip(one_by_one, together, strict=True):
        assert alone["label"] == batched["label"]
        for label, p in alone["probabilities"].items():
            assert batched["probabilities"][label] == pytest.approx(p, abs=1e-5)
    # the concurrent half really was batched: some batch held more than one text
    assert 'sentiment_batch_size_bucket{le="1.0",model="tiny-en"} 400.0' not in metrics


async def test_sigterm_drains_without_losing_accepted_requests(
    bundles_root: Path, tmp_path: Path
) -> None:
    # every batch waits 1.5 s to fill, so the 100 requests are still queued at SIGTERM time and
    # are answered only after the 0.5 s drain period, once uvicorn has stopped accepting
    env = {"SENTIMENT_MAX_WAIT_MS": "1500", "SENTIMENT_MAX_BATCH_SIZE": "256"}
    log = tmp_path / "log"
    with server(bundles_root, log, **env) as (process, base):
        await wait_until(f"{base}/ready", 200)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            texts = [f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(100)]
            in_flight = [
                asyncio.create_task(client.post("/predict", json={"text": t})) for t in texts
            ]
            await wait_for_queue(client, 100)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)
            ready = await client.get("/ready")
            during_drain = asyncio.create_task(client.post("/predict", json={"text": "late"}))
            await asyncio.sleep(0.6)  # drain period over: the listening socket is closed
            with pytest.raises(httpx.ConnectError):
                await client.get("/health")
            responses = await asyncio.gather(*in_flight, during_drain)
        exit_code = process.wait(timeout=30)
    assert ready.status_code == 503 and ready.json()["type"] == "not_ready"
    assert [r.status_code for r in responses] == [200] * 101
    assert all(r.json()["predictions"][0]["label"] for r in responses)
    assert exit_code == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()


async def test_a_client_that_hangs_up_is_counted_as_499_not_as_a_server_error(
    bundles_root: Path, tmp_path: Path
) -> None:
    # One text per batch on one thread: three requests of 64 long texts keep the queue deep, so
    # the service watches the next request's connection while its text waits behind them.
    env = {"SENTIMENT_MAX_BATCH_SIZE": "1", "SENTIMENT_BATCH_WORKERS": "1"}
    log = tmp_path / "log"
    with server(bundles_root, log, **env) as (_, base):
        await wait_until(f"{base}/ready", 200)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            texts = [f"a long and winding review number {i} " * 60 for i in range(64)]
            busy = [
                asyncio.create_task(client.post("/predict", json={"texts": texts}))
                for _ in range(3)
            ]
            await wait_for_queue_over(client, 100)
            body = json.dumps({"text": "great"}).encode()
            _, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()  # hang up while the text still waits behind the others
            assert [r.status_code for r in await asyncio.gather(*busy)] == [200] * 3
            await asyncio.sleep(0.2)  # the hung-up request's log line and counter
            metrics = (await client.get("/metrics")).text
            gone = await logged_line(log, '"status":499')  # the access log is flushed in turns
    assert 'route="/predict",status="499"} 1.0' in metrics
    assert 'route="/predict",status="500"' not in metrics  # not a server error for the alerts
    assert gone["path"] == "/predict" and gone["error_type"] == "client_closed_request"
    assert '"status":500' not in log.read_text() and "Traceback" not in log.read_text()


async def logged_line(log: Path, fragment: str, timeout: float = 10) -> dict:
    """The first JSON log line holding `fragment`, waiting for the server to write it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if fragment in line:
                return json.loads(line)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no log line with {fragment}")


async def test_bad_default_bundle_exits_1_naming_the_file(model_dir: Path, tmp_path: Path) -> None:
    path = model_dir / "tiny-en" / "model.onnx"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    log = tmp_path / "log"
    with server(model_dir, log) as (process, _base):
        exit_code = process.wait(timeout=30)
    assert exit_code == 1
    assert "model.onnx" in log.read_text() and "sha256" in log.read_text()


async def test_a_start_that_cannot_bind_fails_with_the_servers_log(
    bundles_root: Path, tmp_path: Path
) -> None:
    with socket.socket() as holder:  # another process holds the gRPC port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = str(holder.getsockname()[1])
        failure = f"Failed to bind to address 127.0.0.1:{taken}"
        with (
            pytest.raises(AssertionError, match=failure),
            server(bundles_root, tmp_path / "log", SENTIMENT_GRPC_PORT=taken) as (_, base),
        ):
            await wait_until(f"{base}/ready", 200, timeout=1)


async def test_a_port_taken_between_pick_and_bind_is_picked_again(
    bundles_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pick = support.free_port
    with socket.socket() as holder:  # the first port picked is taken before the server binds it
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        picks = iter([taken])
        monkeypatch.setattr(support, "free_port", lambda *t: next(picks, 0) or real_pick(*t))
        with server(bundles_root, tmp_path / "log") as (_, base):
            await wait_until(f"{base}/ready", 200)
    assert not base.endswith(f":{taken}")
