"""Prometheus metrics: each stage observed once, texts counted per path, queues read at scrape."""

from __future__ import annotations

import pytest

from app.core.batcher import BatchStats
from app.core.scoring import Scores
from app.ops.metrics import Metrics

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_batch_stats_give_size_padding_and_each_wait_but_no_inference() -> None:
    metrics = Metrics()
    metrics.batch_observer("m")(BatchStats(size=3, padded=30, waits=(0.1, 0.2, 0.3), run_s=9.0))
    assert sample(metrics, "sentiment_batch_size_sum", model="m") == 3
    assert sample(metrics, "sentiment_batch_padded_tokens_sum", model="m") == 30
    assert sample(metrics, "sentiment_stage_seconds_count", model="m", stage="queue") == 3
    waited = sample(metrics, "sentiment_stage_seconds_sum", model="m", stage="queue")
    assert waited == pytest.approx(0.6)
    # the batch's run time includes the worker's tokenization: inference comes from the scores
    assert sample(metrics, "sentiment_stage_seconds_count", model="m", stage="inference") is None


def test_scores_give_inference_time_and_texts_per_path() -> None:
    metrics = Metrics()
    observe = metrics.scores_observer("m")
    observe(Scores([[0.5, 0.5]] * 3, ["fast", "full", "fast"], inference_s=0.25))
    observe(Scores([[0.5, 0.5]], ["full"], inference_s=0.5))
    assert sample(metrics, "sentiment_stage_seconds_sum", model="m", stage="inference") == 0.75
    assert sample(metrics, "sentiment_cascade_texts_total", model="m", path="fast") == 2
    assert sample(metrics, "sentiment_cascade_texts_total", model="m", path="full") == 2


def test_requests_and_errors_are_counted_by_route_status_and_type() -> None:
    metrics = Metrics()
    metrics.observe_request("/predict", "POST", 200, 0.01)
    metrics.observe_request("/predict", "POST", 200, 0.02)
    metrics.observe_error("queue_full")
    labels = {"route": "/predict", "method": "POST", "status": "200"}
    assert sample(metrics, "sentiment_http_requests_total", **labels) == 2
    assert sample(metrics, "sentiment_http_request_duration_seconds_count", route="/predict") == 2
    assert sample(metrics, "sentiment_errors_total", type="queue_full") == 1


def test_queue_depth_capacity_and_readiness_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    depths, ready = {"m": 0}, [False]
    metrics.watch_service(lambda: dict(depths), 64, lambda: ready[0])
    assert b"sentiment_ready 0.0" in metrics.render()
    depths["m"], ready[0] = 7, True
    text = metrics.render()
    assert b'sentiment_queue_depth{model="m"} 7.0' in text
    assert b'sentiment_queue_capacity{model="m"} 64.0' in text
    assert b"sentiment_ready 1.0" in text


def test_split_direction_runs_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    runs = {"m": 0}
    metrics.watch_service(dict, 64, lambda: True, lambda: dict(runs))
    assert b'sentiment_split_direction_runs_total{model="m"} 0.0' in metrics.render()
    runs["m"] = 3
    assert b'sentiment_split_direction_runs_total{model="m"} 3.0' in metrics.render()
