"""Probes, /models and /metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


async def test_health_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_ready_is_200_once_loaded(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ready")).status_code == 200


async def test_ready_is_503_before_loading_ends(bundles_root: Path) -> None:
    app = create_app(make_settings(bundles_root))
    service = app.state.service
    async with serving(app, wait_loaded=False) as client:
        before = await client.get("/ready")
        health = await client.get("/health")
        await service.load_finished.wait()
        after = await client.get("/ready")
    assert health.status_code == 200
    assert (before.status_code, after.status_code) == (503, 200)
    assert before.json() == {"error": "not ready: models are still loading", "type": "not_ready"}


async def test_ready_is_503_while_draining_but_predict_still_works(
    client: httpx.AsyncClient,
) -> None:
    client._transport.app.state.service.start_draining()  # type: ignore[attr-defined]
    ready = await client.get("/ready")
    assert ready.status_code == 503 and "draining" in ready.json()["error"]
    assert (await client.post("/predict", json={"text": "good"})).status_code == 200


async def test_models_lists_manifest_and_runtime(client: httpx.AsyncClient) -> None:
    body = (await client.get("/models")).json()
    assert body["default"] == "tiny-en" and body["failed"] == {}
    models = {m["name"]: m for m in body["models"]}
    assert set(models) == {"tiny-en", "tiny-ko"}
    english = models["tiny-en"]
    assert english["labels"] == ["negative", "neutral", "positive"]
    assert english["version"] == english["manifest"]["version"]
    assert english["runtime"]["provider"] == "CPUExecutionProvider"
    assert english["runtime"]["variant"] in ("fp32", "int8")
    assert english["runtime"]["intra_op_threads"] >= 1
    assert any(name.startswith("validation:") for name in english["metrics"])


async def test_variant_setting_is_used(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, variant="int8"))) as client:
        models = (await client.get("/models")).json()["models"]
    assert {m["runtime"]["variant"] for m in models} == {"int8"}


async def test_thread_setting_is_used(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, intra_op_threads=2, inter_op_threads=1, batch_workers=3)
    async with serving(create_app(settings)) as client:
        runtime = (await client.get("/models")).json()["models"][0]["runtime"]
    assert (runtime["intra_op_threads"], runtime["batch_workers"]) == (2, 3)


async def test_metrics_use_route_templates_not_paths(client: httpx.AsyncClient) -> None:
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["ok"]}]}
    await client.post("/v2/models/tiny-en/infer", json=body)
    await client.get("/v2/models/tiny-ko")
    text = (await client.get("/metrics")).text
    assert 'route="/v2/models/{name}/infer"' in text
    assert "/v2/models/tiny-en/infer" not in text


async def test_metrics_cover_requests_errors_batches_stages_and_models(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/predict", json={"texts": ["good", "bad"]})
    await client.post("/predict", json={"text": ""})
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'sentiment_http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'sentiment_errors_total{type="invalid_input"} 1.0' in text
    assert 'sentiment_queue_depth{model="tiny-en"} 0.0' in text
    assert 'sentiment_batch_size_count{model="tiny-en"}' in text
    assert 'sentiment_batch_padded_tokens_count{model="tiny-en"}' in text
    for stage in ("tokenization", "queue", "inference"):
        assert f'sentiment_stage_seconds_count{{model="tiny-en",stage="{stage}"}}' in text
    assert 'sentiment_model_info{name="tiny-en",provider="CPUExecutionProvider"' in text


async def test_apps_have_separate_registries(bundles_root: Path) -> None:
    first, second = create_app(make_settings(bundles_root)), create_app(make_settings(bundles_root))
    assert first.state.service.metrics.registry is not second.state.service.metrics.registry
