"""Prometheus metrics in a per-app registry (tests build many apps in one process).

Labelled children are cached, since `.labels()` costs a dict lookup and a lock per call on the
hot path. Queue depth is read at scrape time, so submitting work pays nothing for it.

Each stage is observed once: tokenization per request (wherever it ran), queue per text, and
inference per batch as the time spent in ONNX Runtime only (the batch worker's tokenization is
not in it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.core.batcher import BatchStats
from app.ops.drift import Baselines, DriftCollector
from model.cascade import FAST, FULL

if TYPE_CHECKING:
    from app.core.scoring import Scores

LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768)


class ServiceStateCollector(Collector):
    """Read at scrape time: each model's queue depth and capacity, readiness, and how many texts
    each model answered with its LSTM directions on two CPUs."""

    def __init__(
        self,
        depths: Callable[[], dict[str, int]],
        capacity: int,
        ready: Callable[[], bool],
        splits: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self._depths = depths
        self._capacity = capacity
        self._ready = ready
        self._splits = splits

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        depth = GaugeMetricFamily(
            "sentiment_queue_depth", "Texts waiting in each model's batch queue", labels=["model"]
        )
        capacity = GaugeMetricFamily(
            "sentiment_queue_capacity",
            "Texts a model's queue holds before requests get 429",
            labels=["model"],
        )
        for model, waiting in self._depths().items():
            depth.add_metric([model], waiting)
            capacity.add_metric([model], self._capacity)
        yield depth
        yield capacity
        yield GaugeMetricFamily(
            "sentiment_ready",
            "1 while /ready answers 200; 0 while loading, draining or after a failed load",
            value=1.0 if self._ready() else 0.0,
        )
        if self._splits is not None:
            split = CounterMetricFamily(
                "sentiment_split_direction_runs",
                "Texts answered with the BiLSTM's two directions on two CPUs (one text alone; "
                "SENTIMENT_SPLIT_DIRECTIONS), since the model was loaded",
                labels=["model"],
            )
            for model, runs in self._splits().items():
                split.add_metric([model], runs)
            yield split


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "sentiment_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds",
            "Time to answer, by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # gRPC calls apart from HTTP: a method and a status code are not a route and a status
        self.grpc_requests = Counter(
            "sentiment_grpc_requests",
            "gRPC calls of the KServe v2 service by method and status code",
            ["method", "code"],
            registry=r,
        )
        self.grpc_latency = Histogram(
            "sentiment_grpc_request_duration_seconds",
            "Time to answer a gRPC call, by method",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("sentiment_errors", "Error responses by type", ["type"], registry=r)
        self.batch_size = Histogram(
            "sentiment_batch_size", "Texts per batch", ["model"], buckets=SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "sentiment_batch_padded_tokens",
            "Padded tokens per batch (texts x longest)",
            ["model"],
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "sentiment_stage_seconds",
            "Per-stage latency: tokenization, queue, inference",
            ["model", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cascade_texts = Counter(
            "sentiment_cascade_texts",
            "Texts answered by each path of a model: fast (the cascade's cheap graph) or full",
            ["model", "path"],
            registry=r,
        )
        self.model_info = Gauge(
            "sentiment_model_info",
            "Loaded models (value 1)",
            ["name", "version", "variant", "provider"],
            registry=r,
        )
        self._children: dict[tuple, object] = {}
        # drift signals (predictions by label, confidence, tokens per text, baselines)
        self.drift = DriftCollector()
        r.register(self.drift)

    def model_serving(self, labels: tuple[str, str, str, str]) -> None:
        """`sentiment_model_info` 1 for a model version now served (name, version, variant,
        provider)."""
        self.model_info.labels(*labels).set(1)

    def model_retired(self, labels: tuple[str, str, str, str]) -> None:
        """A replaced or unloaded version leaves `sentiment_model_info`."""
        with contextlib.suppress(KeyError):
            self.model_info.remove(*labels)

    def watch_service(
        self,
        depths: Callable[[], dict[str, int]],
        capacity: int,
        ready: Callable[[], bool],
        splits: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.registry.register(ServiceStateCollector(depths, capacity, ready, splits))

    def _child(self, metric: Counter | Histogram, *labels: str) -> object:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._child(self.requests, route, method, str(status)).inc()
        self._child(self.latency, route).observe(seconds)

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        self._child(self.grpc_requests, method, code).inc()
        self._child(self.grpc_latency, method).observe(seconds)

    def observe_error(self, kind: str) -> None:
        self._child(self.errors, kind).inc()

    def observe_stage(self, model: str, stage: str, seconds: float) -> None:
        self._child(self.stage, model, stage).observe(seconds)

    def batch_observer(self, model: str) -> Callable[[BatchStats], None]:
        """A callback for the model's batcher: batch size, padded tokens, each text's wait."""
        size = self._child(self.batch_size, model)
        tokens = self._child(self.batch_tokens, model)
        queue = self._child(self.stage, model, "queue")

        def observe(stats: BatchStats) -> None:
            size.observe(stats.size)
            tokens.observe(stats.padded)
            for wait in stats.waits:
                queue.observe(wait)

        return observe

    def scores_observer(self, model: str) -> Callable[[Scores], None]:
        """A callback for the model's batch function: ONNX Runtime time, texts per path."""
        inference = self._child(self.stage, model, "inference")
        fast = self._child(self.cascade_texts, model, FAST)
        full = self._child(self.cascade_texts, model, FULL)

        def observe(scores: Scores) -> None:
            inference.observe(scores.inference_s)
            answered_fast = scores.paths.count(FAST)
            if answered_fast:
                fast.inc(answered_fast)
            if answered_fast < len(scores.paths):
                full.inc(len(scores.paths) - answered_fast)

        return observe

    def prediction_observer(
        self, model: str, labels: list[str]
    ) -> Callable[[list[list[float]], list[str], list[int]], None]:
        """A callback for the model's batch function: each answered text's label, path,
        confidence and tokens (app/ops/drift.py)."""
        return self.drift.model(model, labels).observe

    def watch_baselines(self, baselines: Baselines) -> None:
        """Where the loaded models' manifest baselines are read at scrape time."""
        self.drift.baselines = baselines

    def render(self) -> bytes:
        return generate_latest(self.registry)
