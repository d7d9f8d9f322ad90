"""Drift metrics: predictions by label and path, confidence and length histograms, baselines as
gauges; every front door that scores counts (/predict, v2 REST, gRPC), /explain does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.main import create_app
from app.ops.metrics import Metrics
from tests.app.conftest import make_settings, serving

pytestmark = pytest.mark.anyio


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_predictions_are_counted_by_label_path_confidence_and_length() -> None:
    metrics = Metrics()
    observe = metrics.prediction_observer("m", ["negative", "positive"])
    observe([[0.9, 0.1], [0.3, 0.7], [0.45, 0.55]], ["fast", "full", "full"], [5, 40, 600])
    observe([[0.2, 0.8]], ["full"], [8])
    count = "sentiment_predictions_total"
    assert sample(metrics, count, model="m", label="negative", path="fast") == 1
    assert sample(metrics, count, model="m", label="positive", path="full") == 3
    assert sample(metrics, count, model="m", label="negative", path="full") == 0
    confidence = "sentiment_prediction_confidence"
    assert sample(metrics, f"{confidence}_count", model="m") == 4
    assert sample(metrics, f"{confidence}_sum", model="m") == pytest.approx(0.9 + 0.7 + 0.55 + 0.8)
    assert sample(metrics, f"{confidence}_bucket", model="m", le="0.6") == 1
    assert sample(metrics, f"{confidence}_bucket", model="m", le="0.7") == 2
    assert sample(metrics, f"{confidence}_bucket", model="m", le="+Inf") == 4
    tokens = "sentiment_text_tokens"
    assert sample(metrics, f"{tokens}_bucket", model="m", le="8.0") == 2  # 5 and 8
    assert sample(metrics, f"{tokens}_bucket", model="m", le="512.0") == 3
    assert sample(metrics, f"{tokens}_sum", model="m") == 5 + 40 + 600 + 8


def test_baselines_are_gauges_and_absent_without_one() -> None:
    metrics = Metrics()
    baseline = {
        "label_shares": {"negative": 0.4, "positive": 0.6},
        "mean_confidence": 0.8,
        "length_buckets": {"8.0": 0.25, "+Inf": 1.0},
    }
    metrics.watch_baselines(lambda: {"m": baseline, "old": {}})
    assert sample(metrics, "sentiment_baseline_label_share", model="m", label="positive") == 0.6
    assert sample(metrics, "sentiment_baseline_confidence_mean", model="m") == 0.8
    assert sample(metrics, "sentiment_baseline_text_tokens_share", model="m", le="8.0") == 0.25
    assert sample(metrics, "sentiment_baseline_confidence_mean", model="old") is None


def counted(metrics_text: str, model: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("sentiment_predictions_total{") and f'model="{model}"' in line
    )


async def test_predict_and_v2_rest_count_and_explain_does_not(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root))) as client:
        assert (await client.post("/predict", json={"texts": ["great", "awful"]})).is_success
        body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["ok"]}]}
        assert (await client.post("/v2/models/tiny-en/infer", json=body)).is_success
        assert (await client.post("/explain", json={"text": "a very good film"})).is_success
        text = (await client.get("/metrics")).text
    assert counted(text, "tiny-en") == 3
    assert 'sentiment_prediction_confidence_count{model="tiny-en"} 3.0' in text
    assert 'sentiment_baseline_confidence_mean{model="tiny-en"}' in text
    assert 'sentiment_baseline_label_share{label="neutral",model="tiny-en"}' in text


async def test_grpc_infer_counts(bundles_root: Path) -> None:
    from tests.app.test_grpc import grpc_stub, infer_request

    async for stub, (client, _, _) in grpc_stub(bundles_root):
        await stub.ModelInfer(infer_request(["a wonderful film", "dull"], model="tiny-ko"))
        text = (await client.get("/metrics")).text
        assert counted(text, "tiny-ko") == 2


def test_a_reloaded_model_keeps_counting_and_new_labels_start_again() -> None:
    metrics = Metrics()
    metrics.prediction_observer("m", ["negative", "positive"])([[0.9, 0.1]], ["full"], [3])
    metrics.prediction_observer("m", ["negative", "positive"])([[0.8, 0.2]], ["full"], [3])
    labels = {"model": "m", "label": "negative", "path": "full"}
    assert sample(metrics, "sentiment_predictions_total", **labels) == 2  # monotonic
    metrics.prediction_observer("m", ["neg", "neu", "pos"])([[0.1, 0.8, 0.1]], ["full"], [3])
    assert sample(metrics, "sentiment_predictions_total", **labels) is None
    assert sample(metrics, "sentiment_predictions_total", model="m", label="neu", path="full") == 1
