"""The one adapter between bulk scoring and the service's internals.

`load_scorer()` loads a bundle the way the service does (app.core.registry: every sha256
checked, warmed up) with the service's runtime settings (app.core.service: ONNX Runtime threads,
batch limits) and runs texts through the service's own batcher and batch function
(app.core.batcher, app.core.scoring), so a file scored here gets exactly the answers `/predict`
would give. Nothing else in app.bulk imports from the service: replacing how models are loaded
and run means changing this file only.

The batcher is asyncio code; the scorer keeps a private event loop and blocks on it in `score()`.
Texts are always truncated to the model's length, as the service does by default. Each call
queues its texts shortest first, so that batches hold texts of similar length (less padding; the
answers do not depend on how texts are batched).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.registry import AUTO, StartupError, bundle_names, load_registry
from app.core.routing import LanguageRouter, classify_routed
from app.core.sentence_scoring import SentencePlan, mixed_rule, split_texts
from app.core.service import load_plan
from app.core.settings import Settings
from app.core.worker import Classified, ModelWorker, Scored
from model import read_manifest

NO_DEADLINE_S = 24 * 3600.0  # a bulk job waits for its texts however long batches take


@dataclass(frozen=True, slots=True)
class Result:
    label: str | None  # None: no served model reads the text's language (see `error`)
    probabilities: dict[str, float]  # label -> probability, in the model's label order (auto:
    # every served label, None where the answering model has no such label)
    path: str | None = None  # the cascade path that answered, for models that have one
    routed: Routing | None = None  # with --model auto: which model, and why
    # with ScorerConfig.sentences: {"sentences": [...], "aggregate": {...}} as /predict answers
    analysis: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Routing:
    """With `--model auto`: the model that answered, the text's language, or the error."""

    model: str | None
    language: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ScorerConfig:
    model: str = "sentiment-en"  # or "auto": each text to the bundle of its language
    model_dir: Path | None = None  # None: the service's default (SENTIMENT_MODEL_DIR or bundled)
    variant: str | None = None  # None: the bundle's default variant
    intra_op_threads: int | None = None  # None: as the service (its CPUs minus one)
    batch_workers: int | None = None  # None: as the service (CPUs // threads)
    max_texts: int = 4096  # the most texts one score() call may pass
    sentences: bool = False  # also answer each sentence and their aggregate (as /predict)


class BulkScorer:
    """`score(texts)` for one model; not thread-safe (one caller at a time)."""

    def __init__(self, config: ScorerConfig) -> None:
        settings = service_settings(config)
        registry = load_registry(settings, load_plan(settings))
        self._model: ModelWorker = registry.get(None if config.model == AUTO else config.model)
        self._sentences = config.sentences
        self._max_rows = config.max_texts
        self._rule = mixed_rule(self._model.bundle.manifest.language, settings.mixed_threshold)
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._start())

    @property
    def labels(self) -> list[str]:
        return list(self._model.labels)

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def version(self) -> str:
        return self._model.bundle.manifest.version

    @property
    def variant(self) -> str:
        return self._model.scorer.full.variant

    @property
    def has_path(self) -> bool:
        """Whether results carry a cascade path (the bundle has a fast graph, not turned off)."""
        return self._model.cascade

    def score(self, texts: list[str]) -> list[Result]:
        if not texts:
            return []
        if self._sentences:
            return self._loop.run_until_complete(self._with_sentences(texts))
        answers = self._loop.run_until_complete(self._answers(texts))
        labels = self._model.labels
        return [result(labels, item.probabilities, item.path) for item in answers]

    def close(self) -> None:
        self._loop.run_until_complete(self._model.stop(timeout_s=60.0))
        self._loop.close()

    async def _start(self) -> None:
        self._model.start()

    async def _answers(self, texts: list[str]) -> list[Scored]:
        """One answer per text, in input order; queued shortest first, at most `max_texts`
        at a time (the queue's size)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        deadline = time.monotonic() + NO_DEADLINE_S
        answers: list[Scored] = [None] * len(texts)  # type: ignore[list-item]
        for start in range(0, len(order), self._max_rows):
            part = order[start : start + self._max_rows]
            classified = await self._model.classify([texts[i] for i in part], True, deadline)
            for i, item in zip(part, classified.scored, strict=True):
                answers[i] = item
        return answers

    async def _with_sentences(self, texts: list[str]) -> list[Result]:
        """Each text and each of its sentences (no sentence limit offline), as /predict."""
        plan = SentencePlan.of(texts, split_texts(texts, self._model.bundle.manifest.language))
        answers = await self._answers([*texts, *plan.rows()])
        own, labels = answers[: len(texts)], self._model.labels
        analyses = plan.analyses(labels, own, answers[len(texts) :], self._rule)
        return [
            result(labels, item.probabilities, item.path, extra)
            for item, extra in zip(own, analyses, strict=True)
        ]


class AutoScorer(BulkScorer):
    """`--model auto`: every served bundle loaded, each text scored by its language's model
    (app.core.routing, as `/predict` with `"model": "auto"`)."""

    def __init__(self, config: ScorerConfig) -> None:
        settings = service_settings(config)
        self._registry = load_registry(settings, load_plan(settings))
        self._model = self._registry.get(None)
        self._router = LanguageRouter()
        self._router.identifier.load()
        self._sentences = False  # --sentences needs one named model (refused in job.run)
        self._loop = asyncio.new_event_loop()
        for model in self._registry.models.values():
            self._loop.run_until_complete(_started(model))

    @property
    def labels(self) -> list[str]:
        return auto_labels([m.labels for m in self._registry.models.values()])

    def score(self, texts: list[str]) -> list[Result]:
        if not texts:
            return []
        return self._loop.run_until_complete(self._routed(texts))

    def close(self) -> None:
        for model in self._registry.models.values():
            self._loop.run_until_complete(model.stop(timeout_s=60.0))
        self._loop.close()

    async def _routed(self, texts: list[str]) -> list[Result]:
        deadline = time.monotonic() + NO_DEADLINE_S

        async def classify(model: ModelWorker, items: list[str]) -> Classified:
            return await model.classify(items, True, deadline)

        routes = self._router.routes(self._registry, texts)
        routed = await classify_routed(routes, texts, classify)
        labels, results = self.labels, []
        for route, scored in zip(routes, routed.scored, strict=True):
            if route.model is None or scored is None:
                empty = dict.fromkeys(labels)  # every row has every column; these empty
                routing = Routing(None, route.language, route.error)
                results.append(Result(None, empty, None, routing))  # type: ignore[arg-type]
                continue
            answer = result(route.model.labels, scored.probabilities, scored.path)
            probabilities = {label: answer.probabilities.get(label) for label in labels}
            routing = Routing(route.model.name, route.language)
            results.append(Result(answer.label, probabilities, answer.path, routing))  # type: ignore[arg-type]
        return results


async def _started(model: ModelWorker) -> None:
    model.start()


def auto_labels(label_sets: list[list[str]]) -> list[str]:
    """Every served model's labels, each once, in the order the models list them."""
    return list(dict.fromkeys(label for labels in label_sets for label in labels))


def result(
    labels: list[str],
    probabilities: list[float],
    path: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Result:
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    probs = dict(zip(labels, probabilities, strict=True))
    return Result(labels[best], probs, path, analysis=extra)


def service_settings(config: ScorerConfig) -> Settings:
    """The service's settings (SENTIMENT_* variables apply) for this one model."""
    auto = config.model == AUTO  # every bundle, the default model as the service's
    chosen: dict[str, object] = {"max_queue": config.max_texts}
    if not auto:
        chosen |= {"models": [config.model], "default_model": config.model}
    optional = {
        "model_dir": config.model_dir,
        "variant": config.variant,
        "intra_op_threads": config.intra_op_threads,
        "batch_workers": config.batch_workers,
    }
    chosen.update({k: v for k, v in optional.items() if v is not None})
    return Settings(**chosen)


def load_scorer(config: ScorerConfig) -> BulkScorer:
    """The call site to swap when models are loaded and run another way."""
    return AutoScorer(config) if config.model == AUTO else BulkScorer(config)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    version: str
    variant: str
    labels: list[str]
    cascade: bool  # answers carry the path ("fast" or "full") that gave them
    auto: bool = False  # --model auto: answers carry their model, language and error


def describe_model(config: ScorerConfig) -> ModelInfo:
    """Name, version, variant and labels from the bundle's manifest, without loading the graph
    (a Ray driver needs them to lay out the output; its actors load the model). With
    `--model auto`: every bundle's, its version the list of name@version."""
    settings = service_settings(config)
    folders = bundle_names(settings.model_dir)
    if config.model == AUTO:
        manifests = [read_manifest(folders[name]) for name in sorted(folders)]
        version = ",".join(f"{m.name}@{m.version}" for m in manifests)
        labels = auto_labels([list(m.labels) for m in manifests])
        cascade = settings.cascade and any(m.cascade for m in manifests)
        return ModelInfo(AUTO, version, config.variant or "default", labels, cascade, auto=True)
    if config.model not in folders:
        raise StartupError(f"no bundle named {config.model!r} in {settings.model_dir}")
    manifest = read_manifest(folders[config.model])
    variant = config.variant or manifest.default_variant
    cascade = bool(manifest.cascade) and settings.cascade
    return ModelInfo(manifest.name, manifest.version, variant, list(manifest.labels), cascade)
