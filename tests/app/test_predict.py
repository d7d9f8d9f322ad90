"""POST /predict: answers, limits and every error case, against real tiny bundles."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
REVIEW = "A wonderful film with great acting, a moving story and a superb ending. " * 20


async def test_one_text_gets_a_label_and_probabilities(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": "What a great movie"})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "tiny-en"
    (prediction,) = body["predictions"]
    assert set(prediction) == {"label", "score", "probabilities", "tokens", "truncated", "path"}
    assert prediction["label"] in ("negative", "neutral", "positive")
    assert prediction["path"] in ("fast", "full")
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction["score"] == max(prediction["probabilities"].values())


async def answers_together_and_alone(
    client: httpx.AsyncClient, texts: list[str], model: str
) -> list[tuple[dict, dict]]:
    body = {"texts": texts, "model": model}
    together = (await client.post("/predict", json=body)).json()["predictions"]
    pairs = []
    for text, prediction in zip(texts, together, strict=True):
        alone = await client.post("/predict", json={"text": text, "model": model})
        pairs.append((alone.json()["predictions"][0], prediction))
    return pairs


TEXTS = ["awful", REVIEW, "fine", "terrible waste of time", "좋아요 최고"]


@pytest.mark.parametrize("model", ["tiny-en", "tiny-ko"])
async def test_batch_answers_equal_single_answers_fp32(bundles_root: Path, model: str) -> None:
    async with serving(create_app(make_settings(bundles_root, variant="fp32"))) as client:
        pairs = await answers_together_and_alone(client, TEXTS, model)
    for alone, together in pairs:
        assert (alone["label"], alone["tokens"]) == (together["label"], together["tokens"])
        for label, p in alone["probabilities"].items():
            assert together["probabilities"][label] == pytest.approx(p, abs=1e-5)


async def test_int8_batch_answers_are_close_to_single_answers(bundles_root: Path) -> None:
    """Dynamic int8 quantization scales activations per batch tensor, so other rows of a batch
    move a row's probabilities slightly (measured up to ~3e-3); fp32 is exact (test above)."""
    async with serving(create_app(make_settings(bundles_root, variant="int8"))) as client:
        pairs = await answers_together_and_alone(client, TEXTS, "tiny-en")
    for alone, together in pairs:
        for label, p in alone["probabilities"].items():
            assert together["probabilities"][label] == pytest.approx(p, abs=0.02)


async def test_model_can_be_chosen(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": "정말 재미있어요", "model": "tiny-ko"})
    assert response.json()["model"] == "tiny-ko"


async def test_long_text_is_truncated_by_default(client: httpx.AsyncClient) -> None:
    prediction = (await client.post("/predict", json={"text": REVIEW})).json()["predictions"][0]
    assert prediction["truncated"] is True
    assert prediction["tokens"] == 96  # tiny-en's max_length


async def test_truncate_false_refuses_a_long_text(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": REVIEW, "truncate": False})
    assert response.status_code == 413
    assert "truncate" in response.json()["error"] and "96" in response.json()["error"]


async def test_truncate_false_accepts_a_short_text(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": "short", "truncate": False})
    assert response.status_code == 200


def stage_sums(metrics: str) -> dict[str, float]:
    """Seconds summed per stage of tiny-en in a /metrics text."""
    sums = {}
    for line in metrics.splitlines():
        if line.startswith("sentiment_stage_seconds_sum") and 'model="tiny-en"' in line:
            stage = line.split('stage="', 1)[1].split('"', 1)[0]
            sums[stage] = float(line.rsplit(" ", 1)[1])
    return sums


@pytest.mark.parametrize("text", ["good", REVIEW])  # tokenized by the batch worker / the request
async def test_each_stage_is_counted_once_alike_in_headers_and_histograms(
    client: httpx.AsyncClient, text: str
) -> None:
    response = await client.post("/predict", json={"text": text})
    sums = stage_sums((await client.get("/metrics")).text)
    for stage in ("tokenization", "queue", "inference"):
        header = float(response.headers[f"x-{stage}-time"]) / 1e3
        assert sums[stage] == pytest.approx(header, abs=1e-6), stage
    assert sums["tokenization"] > 0 and sums["inference"] > 0


async def test_json_without_content_type_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", content=b'{"text": "good"}')
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "empty"),
        ({"text": "   \n\t"}, "empty"),
        ({"texts": ["ok", " "]}, "texts[1]"),
        ({"texts": []}, "empty"),
        ({"text": 5}, "text"),
        ({"texts": "not a list"}, "texts"),
        ({"texts": ["ok", 3]}, "texts.1"),
        ({"text": "ok", "truncate": "yes"}, "truncate"),
        ({"text": "ok", "colour": "red"}, "colour: unknown field"),
        ({"text": "a", "texts": ["b"]}, "exactly one"),
        ({}, "exactly one"),
        ([1, 2], "body"),
    ],
)
async def test_invalid_input_is_422_saying_what_to_fix(
    client: httpx.AsyncClient, body: object, fragment: str
) -> None:
    response = await client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["type"] == "invalid_input"
    assert fragment in response.json()["error"]


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/predict", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]


async def test_form_body_is_told_to_send_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", data={"text": "good"})
    assert response.status_code == 422
    assert "application/json" in response.json()["error"]


async def test_unknown_model_is_404_listing_loaded_ones(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": "ok", "model": "../tiny-en"})
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "model_not_found"
    assert "tiny-en" in body["error"] and "tiny-ko" in body["error"]


async def test_too_many_texts_is_422(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, max_texts=2))) as client:
        response = await client.post("/predict", json={"texts": ["a", "b", "c"]})
    assert response.status_code == 422
    assert "at most 2" in response.json()["error"]


async def test_text_over_char_limit_is_413(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, max_text_chars=10))) as client:
        response = await client.post("/predict", json={"text": "x" * 11})
    assert response.status_code == 413
    assert response.json()["type"] == "payload_too_large"


async def test_truncate_setting_is_the_default(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, truncate=False))) as client:
        refused = await client.post("/predict", json={"text": REVIEW})
        allowed = await client.post("/predict", json={"text": REVIEW, "truncate": True})
    assert (refused.status_code, allowed.status_code) == (413, 200)


async def test_full_queue_is_429_with_retry_after(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, max_queue=1))) as client:
        response = await client.post("/predict", json={"texts": ["a", "b"]})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "queue_full"


async def test_passed_deadline_is_504(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, request_timeout_s=1e-6)
    async with serving(create_app(settings)) as client:
        response = await client.post("/predict", json={"text": "good"})
    assert response.status_code == 504
    assert response.json()["type"] == "timeout"


async def test_before_models_load_it_is_503(
    bundles_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core import service

    loading = threading.Event()
    real_load = service.load_registry

    def held_load(*args: object) -> object:
        loading.wait(timeout=30)  # loading stays unfinished until the request has been answered
        return real_load(*args)

    monkeypatch.setattr(service, "load_registry", held_load)
    app = create_app(make_settings(bundles_root))
    async with serving(app, wait_loaded=False) as client:
        response = await client.post("/predict", json={"text": "good"})
        loading.set()
    assert response.status_code == 503
    assert response.json()["type"] == "not_ready"


async def test_batch_failure_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    model = app.state.service.registry.get("tiny-en")

    def broken(ids: object) -> object:
        raise RuntimeError("secret internal detail")

    for graph in (model.scorer.full, model.scorer.fast):
        if graph is not None:
            monkeypatch.setattr(graph, "logits", broken)
    response = await client.post("/predict", json={"text": "good"}, headers={"x-request-id": "r-1"})
    assert response.status_code == 500
    assert response.json()["type"] == "internal"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "r-1"
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "r-1"]
    assert any(r.exc_info for r in logged)


async def test_very_long_text_is_tokenized_off_the_loop_and_truncated(
    client: httpx.AsyncClient,
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    worker = app.state.service.registry.get("tiny-en")
    threads: list[str] = []
    real_encode_pending = worker._encode_pending

    def spy(jobs: list) -> list:
        threads.append(threading.current_thread().name)
        assert all(isinstance(j.text, str) for j in jobs)  # queued untokenized
        return real_encode_pending(jobs)

    worker._encode_pending = spy
    response = await client.post("/predict", json={"text": "great film " * 1000})
    assert response.status_code == 200
    assert response.json()["predictions"][0]["truncated"] is True
    # tokenized once, in a batch worker (one encode_batch call, the GIL released): not the loop
    assert len(threads) == 1
    assert threads[0].startswith("batch-")


LONG_TEXTS = [REVIEW, "great film " * 1000, "awful", "ok " * 300, "좋아요 최고 " * 200]


async def test_answers_equal_those_of_request_side_tokenization(
    client: httpx.AsyncClient,
) -> None:
    """Texts of any length are tokenized in the batch worker now (reviews were tokenized by the
    request before): same tokens, same probabilities (1e-6), same order as tokenizing each text
    alone with `encode` and scoring it alone."""
    app = client._transport.app  # type: ignore[attr-defined]
    worker = app.state.service.registry.get("tiny-en")
    response = await client.post("/predict", json={"texts": LONG_TEXTS})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    for text, answer in zip(LONG_TEXTS, predictions, strict=True):
        encoded = worker.encoder.encode(text)
        alone = worker.scorer.score([encoded.ids], [False])
        assert answer["tokens"] == len(encoded)
        assert answer["truncated"] == encoded.truncated
        assert answer["path"] == alone.paths[0]
        expected = dict(zip(worker.labels, alone.probabilities[0], strict=True))
        for label, p in expected.items():
            assert answer["probabilities"][label] == pytest.approx(p, abs=1e-6)
