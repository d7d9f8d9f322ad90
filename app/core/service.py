"""The service's state and lifecycle: load models in the background, start and drain batchers.

Liveness and readiness are separate: the process answers /health at once, /ready turns 200 only
when every selected model is loaded, checksum-verified and warmed up, and 503 again while draining.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from app.core.batcher import BatchLimits
from app.core.errors import InvalidInput, NotReady
from app.core.limits import TextLimits
from app.core.registry import LoadPlan, ModelRegistry, load_registry
from app.core.routing import AUTO, LanguageRouter, Routed, classify_routed
from app.core.sentence_scoring import SentenceLimits, SentencePlan, mixed_rule, split_checked
from app.core.session import RuntimeConfig, default_batch_workers, default_intra_op_threads
from app.core.settings import Settings
from app.core.waiting import Disconnected
from app.core.worker import Classified, ModelWorker
from model.runtime import usable_cpus
from model.text import Direction

if TYPE_CHECKING:  # metrics and the payload log observe the core; the core is handed them
    from app.ops.metrics import Metrics
    from app.ops.payload_log import PayloadLog

log = logging.getLogger(__name__)


def process_cpus(settings: Settings) -> int:
    """The CPUs this server process may count on: the usable ones divided among the processes."""
    return max(1, usable_cpus() // settings.processes)


def runtime_config(settings: Settings) -> RuntimeConfig:
    threads = settings.intra_op_threads or default_intra_op_threads(process_cpus(settings))
    return RuntimeConfig(
        providers=settings.providers,
        intra_op_threads=threads,
        inter_op_threads=settings.inter_op_threads,
        spinning=settings.ort_spinning,
        split_min_tokens=settings.split_min_tokens if settings.split_directions else None,
    )


def batch_limits(settings: Settings, intra_op_threads: int) -> BatchLimits:
    workers = settings.batch_workers or default_batch_workers(
        process_cpus(settings), intra_op_threads
    )
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


# Objects allocated per request before the young generation is collected: Python's default
# (700) ran a collection every few requests under load (7% of the CPU on short texts).
GC_YOUNG_THRESHOLD = int(os.environ.get("SENTIMENT_GC_YOUNG_THRESHOLD", "20000"))  # 0: as before


def settle_garbage_collector() -> None:
    """Once the models are loaded: move everything alive into the permanent generation (the
    collector never walks the bundles, tokenizers and app objects again) and collect the young
    generation less often. Reference counting frees almost everything a request allocates, so
    this changes when cycles are found, never any answer."""
    if GC_YOUNG_THRESHOLD <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class Service:
    """What every request needs: settings, metrics, the loaded models and the readiness state."""

    def __init__(
        self, settings: Settings, metrics: Metrics, payload_log: PayloadLog | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.payload_log = payload_log  # None: off
        self.limits = TextLimits(settings.max_texts, settings.max_text_chars)
        self.sentence_limits = SentenceLimits(
            settings.max_sentences, settings.max_request_sentences
        )
        self.registry: ModelRegistry | None = None
        self.failure: str | None = None  # why loading failed; the process should then exit
        self.draining = False
        self.load_finished = asyncio.Event()  # set when loading ended, well or not
        self._loader: asyncio.Task[None] | None = None
        self.router = LanguageRouter()
        metrics.watch_service(
            self.queue_depths, settings.max_queue, lambda: self.ready, self.split_runs
        )
        metrics.watch_baselines(self.baselines)

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
        direction: Direction | None = None,
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
            direction=direction,
        )
        self.metrics.observe_stage(model.name, "tokenization", result.times.tokenization / 1e3)
        if self.payload_log is not None:
            version = model.bundle.manifest.version
            self.payload_log.offer(model.name, version, model.labels, texts, result.scored)
        return result

    def wants_auto(self, name: str | None) -> bool:
        """`"model": "auto"`, or no model where the default model is set to `auto`."""
        return name == AUTO or (name is None and self.settings.default_model == AUTO)

    async def classify_auto(
        self,
        texts: list[str],
        truncate: bool | None,
        full_model: bool | None,
        disconnected: Disconnected,
        direction: Direction | None = None,
        refuse_unserved: bool = False,
    ) -> Routed:
        """Each text to the served model of its language (`app.core.routing`), then scored;
        `refuse_unserved`: a text in no served language refuses the request (422) first."""
        registry = self.loaded()
        routes = self.router.routes(registry, texts)
        unserved = [r.error for r in routes if r.error is not None]
        if refuse_unserved and unserved:
            raise InvalidInput(unserved[0])

        async def classify(model: ModelWorker, items: list[str]) -> Classified:
            return await self.classify(model, items, truncate, full_model, disconnected, direction)

        return await classify_routed(routes, texts, classify)

    async def classify_sentences(
        self,
        model: ModelWorker,
        texts: list[str],
        truncate: bool | None,
        full_model: bool | None,
        disconnected: Disconnected,
        direction: Direction | None = None,
    ) -> tuple[Classified, list[dict[str, Any]]]:
        """`classify` of the texts, and per text its sentences' answers and their aggregate
        (app.core.sentence_scoring). The texts and every sentence of the texts that hold more
        than one go to the batcher in one submission; 413 past the sentence limits."""
        language = model.bundle.manifest.language
        plan = SentencePlan.of(texts, await split_checked(texts, language, self.sentence_limits))
        rows = [*texts, *plan.rows()]
        result = await self.classify(model, rows, truncate, full_model, disconnected, direction)
        own, sentences = result.scored[: len(texts)], result.scored[len(texts) :]
        rule = mixed_rule(language, self.settings.mixed_threshold)
        answers = plan.analyses(model.labels, own, sentences, rule)
        return Classified(own, result.times), answers

    def queue_depths(self) -> dict[str, int]:
        if self.registry is None:
            return {}
        return {n: m.batcher.depth for n, m in self.registry.models.items()}

    def split_runs(self) -> dict[str, int]:
        """Texts each model answered with its LSTM directions on two CPUs (since it was loaded)."""
        if self.registry is None:
            return {}
        return {n: m.scorer.full.split_runs for n, m in self.registry.models.items()}

    def baselines(self) -> dict[str, dict]:
        """Each served model's manifest baseline (read at scrape time: follows model control)."""
        if self.registry is None:
            return {}
        return {n: m.bundle.manifest.baseline for n, m in self.registry.models.items()}

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
            await asyncio.to_thread(self._load_language_identifier)
            registry = await asyncio.to_thread(load_registry, self.settings, plan)
        except Exception as exc:  # any failure must surface as a clear, logged startup error
            self.failure = str(exc)
            log.critical("startup failed: %s", exc)
            self.load_finished.set()
            return
        for model in registry.models.values():
            model.start()
            self.metrics.model_serving(model.info_labels)
        self.registry = registry
        settle_garbage_collector()
        self.load_finished.set()
        log.info("ready", extra={"models": sorted(registry.models), "default": registry.default})

    def _load_language_identifier(self) -> None:
        """Opened before any request may need it; without it only `auto` requests fail."""
        try:
            self.router.identifier.load()
        except Exception as exc:
            log.error("language identification unavailable: %s", exc)

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
