"""The service's state and lifecycle: load models in the background, start and drain batchers.

Liveness and readiness are separate: the process answers /health at once, /ready turns 200 only
when every selected model is loaded, checksum-verified and warmed up, and 503 again while draining.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from app.core.batcher import BatchLimits
from app.core.errors import NotReady
from app.core.limits import TextLimits
from app.core.registry import LoadPlan, ModelRegistry, load_registry
from app.core.session import RuntimeConfig, default_batch_workers, default_intra_op_threads
from app.core.settings import Settings
from app.core.waiting import Disconnected
from app.core.worker import Classified, ModelWorker
from model.runtime import usable_cpus

if TYPE_CHECKING:  # metrics and the payload log observe the core; the core is handed them
    from app.ops.metrics import Metrics
    from app.ops.payload_log import PayloadLog

log = logging.getLogger(__name__)


def runtime_config(settings: Settings) -> RuntimeConfig:
    threads = settings.intra_op_threads or default_intra_op_threads(usable_cpus())
    return RuntimeConfig(
        providers=settings.providers,
        intra_op_threads=threads,
        inter_op_threads=settings.inter_op_threads,
        spinning=settings.ort_spinning,
    )


def batch_limits(settings: Settings, intra_op_threads: int) -> BatchLimits:
    workers = settings.batch_workers or default_batch_workers(usable_cpus(), intra_op_threads)
    return BatchLimits(
        max_batch_size=settings.max_batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        max_wait_s=settings.max_wait_ms / 1000,
        max_queue=settings.max_queue,
        workers=workers,
    )


def load_plan(settings: Settings, metrics: Metrics | None = None) -> LoadPlan:
    """How the settings say every model is opened and batched (the service and bulk scoring)."""
    config = runtime_config(settings)
    return LoadPlan(
        variant=settings.variant,
        runtime=config,
        limits=batch_limits(settings, config.intra_op_threads),
        cascade=settings.cascade,
        metrics=metrics,
    )


class Service:
    """What every request needs: settings, metrics, the loaded models and the readiness state."""

    def __init__(
        self, settings: Settings, metrics: Metrics, payload_log: PayloadLog | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.payload_log = payload_log  # None: off
        self.limits = TextLimits(settings.max_texts, settings.max_text_chars)
        self.registry: ModelRegistry | None = None
        self.failure: str | None = None  # why loading failed; the process should then exit
        self.draining = False
        self.load_finished = asyncio.Event()  # set when loading ended, well or not
        self._loader: asyncio.Task[None] | None = None
        metrics.watch_service(self.queue_depths, settings.max_queue, lambda: self.ready)

    @property
    def ready(self) -> bool:
        return self.registry is not None and not self.draining and self.failure is None

    def not_ready_reason(self) -> str:
        if self.failure is not None:
            return f"models failed to load: {self.failure}"
        if self.draining:
            return "the service is draining before shutdown"
        return "models are still loading"

    def loaded(self) -> ModelRegistry:
        """The registry, or 503 while models load (or after they failed to)."""
        if self.registry is None:
            raise NotReady(f"not ready: {self.not_ready_reason()}; retry shortly")
        return self.registry

    def model(self, name: str | None) -> ModelWorker:
        return self.loaded().get(name)

    def deadline(self) -> float:
        return time.monotonic() + self.settings.request_timeout_s

    async def classify(
        self,
        model: ModelWorker,
        texts: list[str],
        truncate: bool | None,
        full_model: bool | None,
        disconnected: Disconnected,
    ) -> Classified:
        """Tokenize, batch and run `texts` under the request deadline (None options take the
        settings' defaults); records the request's tokenization time, and offers the request
        to the payload log. Every scoring front door (/predict, v2 REST, gRPC) comes here."""
        result = await model.classify(
            texts,
            self.settings.truncate if truncate is None else truncate,
            self.deadline(),
            full_model=bool(full_model),
            disconnected=disconnected,
        )
        self.metrics.observe_stage(model.name, "tokenization", result.times.tokenization / 1e3)
        if self.payload_log is not None:
            version = model.bundle.manifest.version
            self.payload_log.offer(model.name, version, model.labels, texts, result.scored)
        return result

    def queue_depths(self) -> dict[str, int]:
        if self.registry is None:
            return {}
        return {n: m.batcher.depth for n, m in self.registry.models.items()}

    def start(self) -> None:
        self._loader = asyncio.get_running_loop().create_task(self._load(), name="load-models")

    def load_plan(self) -> LoadPlan:
        return load_plan(self.settings, self.metrics)

    async def _load(self) -> None:
        plan = self.load_plan()
        log.info(
            "loading models",
            extra={
                "model_dir": str(self.settings.model_dir),
                "cpus": usable_cpus(),
                "batch_workers": plan.limits.workers,
                "cascade": plan.cascade,
                **vars(plan.runtime),
            },
        )
        try:
            registry = await asyncio.to_thread(load_registry, self.settings, plan)
        except Exception as exc:  # any failure must surface as a clear, logged startup error
            self.failure = str(exc)
            log.critical("startup failed: %s", exc)
            self.load_finished.set()
            return
        for model in registry.models.values():
            model.start()
            full = model.scorer.full
            labels = (model.name, model.bundle.manifest.version, full.variant, full.provider)
            self.metrics.model_info.labels(*labels).set(1)
        self.registry = registry
        self.load_finished.set()
        log.info("ready", extra={"models": sorted(registry.models), "default": registry.default})

    def start_draining(self) -> None:
        if not self.draining:
            log.info("draining: /ready now answers 503; still serving requests")
        self.draining = True

    async def stop(self) -> None:
        """Answer every queued text, then stop the batchers."""
        self.start_draining()
        if self._loader is not None and not self._loader.done():
            await asyncio.wait({self._loader}, timeout=self.settings.graceful_timeout_s)
        if self.registry is None:
            return
        workers = self.registry.models.values()
        await asyncio.gather(*(w.stop(self.settings.graceful_timeout_s) for w in workers))
        log.info("stopped", extra={"models": sorted(self.registry.models)})
