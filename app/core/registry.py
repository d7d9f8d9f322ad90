"""Which bundles to serve, loading them (every sha256 checked), and warming them up.

Bad-bundle policy: startup fails, naming the file, when the default model or any model named in
`SENTIMENT_MODELS` is missing or fails verification. When serving every bundle in the folder, a bad
bundle that is neither is refused (logged at ERROR, listed under `failed` in /models) and the good
ones are served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.batcher import BatchLimits
from app.core.errors import ModelNotFound
from app.core.scoring import Scorer
from app.core.session import RuntimeConfig, open_session
from app.core.settings import Settings
from app.core.worker import ModelWorker
from model import Bundle, BundleError, discover_bundles, load_bundle, read_manifest
from model.cascade import CascadeRule
from model.text import TextEncoder, Truncation, pad_batch

if TYPE_CHECKING:  # metrics observe the core; the core is handed them
    from app.ops.metrics import Metrics

log = logging.getLogger(__name__)
# the model name that asks /predict to pick, per text, the served model of its language
AUTO = "auto"

# real inputs of different lengths, in both shipped languages, run once per model before ready
WARMUP_TEXTS = (
    "good",
    "This movie was fine, not great, but the actors did a decent job.",
    "정말 재미있는 영화였어요. 배우들의 연기가 훌륭했습니다.",
)


class StartupError(RuntimeError):
    """The service cannot start as configured; the message names the file or setting."""


@dataclass
class ModelRegistry:
    models: dict[str, ModelWorker]
    default: str
    failed: dict[str, str] = field(default_factory=dict)  # refused bundle -> reason

    def get(self, name: str | None) -> ModelWorker:
        """Look a name up among loaded models only; names never become paths."""
        model = self.models.get(name or self.default)
        if model is None:
            raise ModelNotFound(
                f"model {name!r} is not loaded; loaded models: {sorted(self.models)}"
            )
        return model


def bundle_names(model_dir: Path) -> dict[str, Path]:
    """Bundle name -> folder; a manifest that cannot be read is named after its folder."""
    try:
        folders = discover_bundles(model_dir)
    except BundleError as exc:
        raise StartupError(f"{exc}; set SENTIMENT_MODEL_DIR to a folder of model bundles") from exc
    names: dict[str, Path] = {}
    for folder in folders:
        try:
            name = read_manifest(folder).name
        except BundleError:
            name = folder.name
        if name in names:
            raise StartupError(f"two bundles are named {name!r}: {names[name]} and {folder}")
        names[name] = folder
    return names


def choose(names: dict[str, Path], wanted: list[str], default: str) -> tuple[list[str], set[str]]:
    """The names to load, and the names whose failure must stop startup."""
    if not names:
        raise StartupError("no model bundle found; set SENTIMENT_MODEL_DIR")
    missing = [n for n in wanted if n not in names]
    if missing:
        raise StartupError(f"SENTIMENT_MODELS names {missing}, not found; bundles: {sorted(names)}")
    selected = wanted or sorted(names)
    required = set(wanted) | ({default} if default in selected else set())
    return selected, required


@dataclass(frozen=True)
class LoadPlan:
    """How every model is opened: variant, sessions, cascade, batching, and where stats go."""

    variant: str | None = None  # None = the bundle's default variant
    runtime: RuntimeConfig = field(default_factory=lambda: RuntimeConfig(providers="cpu"))
    limits: BatchLimits = field(default_factory=BatchLimits)
    cascade: bool = True  # use the bundle's fast graph where it has one
    metrics: Metrics | None = None


def chosen_variant(bundle: Bundle, wanted: str | None) -> str:
    """The asked-for variant where the bundle has it; otherwise its default, said in the log
    (SENTIMENT_VARIANT=int8 must not stop a repository where one bundle ships fp32 alone)."""
    default = bundle.manifest.default_variant
    if wanted is None or wanted in bundle.manifest.variants:
        return wanted or default
    log.warning(
        "model %s has no %s graph (it has %s): serving %s",
        bundle.name,
        wanted,
        ", ".join(sorted(bundle.manifest.variants)),
        default,
    )
    return default


def open_scorer(bundle: Bundle, plan: LoadPlan) -> Scorer:
    variant = chosen_variant(bundle, plan.variant)
    full = open_session(bundle.model_path(variant), variant, plan.runtime)
    fast_path = bundle.fast_path if plan.cascade else None
    if fast_path is None:
        return Scorer(full)
    fast = open_session(fast_path, "fast", plan.runtime)
    return Scorer(full, fast, CascadeRule.from_manifest(bundle.manifest.cascade))


def open_encoder(path: Path, truncation: Truncation) -> TextEncoder:
    """The bundle's tokenizer (immutable once built, so one may serve any number of workers)."""
    return TextEncoder.from_file(path, truncation)


def load_model(folder: Path, plan: LoadPlan) -> ModelWorker:
    """Verify, open and warm one bundle; its batcher is built with it but not yet started."""
    bundle = load_bundle(folder)
    encoder = open_encoder(bundle.tokenizer_path, bundle.manifest.truncation)
    metrics = plan.metrics
    worker = ModelWorker(
        bundle,
        encoder,
        open_scorer(bundle, plan),
        plan.limits,
        on_batch=metrics.batch_observer(bundle.name) if metrics else None,
        on_scores=metrics.scores_observer(bundle.name) if metrics else None,
        on_predictions=(
            metrics.prediction_observer(bundle.name, bundle.manifest.labels) if metrics else None
        ),
    )
    warm_up(worker)
    return worker


def warm_up(worker: ModelWorker) -> None:
    """Run real inputs of several lengths, alone and as one batch, through every graph, so the
    first request is fast. Also checks each graph against the manifest: one logit per label."""
    long_text = " ".join([WARMUP_TEXTS[1]] * (worker.max_length // 4 + 1))
    rows = [e.ids for e in worker.encoder.encode_batch([*WARMUP_TEXTS, long_text])]
    scorer = worker.scorer
    graphs = [("model", scorer.full)] + ([("fast path", scorer.fast)] if scorer.fast else [])
    for kind, session in graphs:
        for row in rows:
            session.logits(pad_batch([row]))
        logits = session.logits(pad_batch(rows))
        if logits.shape != (len(rows), len(worker.labels)):
            raise BundleError(
                f"{worker.bundle.directory}: the {kind} graph gives logits of shape "
                f"{logits.shape} for {len(rows)} texts, but the manifest has "
                f"{len(worker.labels)} labels"
            )


def load_registry(settings: Settings, plan: LoadPlan) -> ModelRegistry:
    """Load, verify and warm every selected bundle (blocking: run it in a thread)."""
    names = bundle_names(settings.model_dir)
    selected, required = choose(names, settings.models, settings.default_model)
    models: dict[str, ModelWorker] = {}
    failed: dict[str, str] = {}
    for name in selected:
        try:
            models[name] = load_model(names[name], plan)
        except Exception as exc:  # ORT and tokenizers raise their own types; any failure refuses
            if name in required:
                raise StartupError(f"model {name!r} cannot be served: {exc}") from exc
            log.error("refusing bundle %s: %s", names[name], exc)
            failed[name] = str(exc)
            continue
        log.info("model loaded", extra={"model": name, **models[name].scorer.full.describe()})
    if not models:
        raise StartupError(f"no bundle in {settings.model_dir} could be served: {failed}")
    default = settings.default_model
    if default not in models:
        default = next(iter(models))
        if settings.default_model != AUTO:  # auto: /predict routes by language (app.core.routing)
            log.warning("default model %r is not served; using %r", settings.default_model, default)
        else:
            log.info("default model: auto on /predict; %r for texts without letters", default)
    return ModelRegistry(models, default, failed)
