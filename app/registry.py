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
from typing import Any

from app.batcher import Batcher
from app.errors import ModelNotFound
from app.runtime import ModelRuntime, RuntimeConfig, open_session
from app.settings import Settings
from model import Bundle, BundleError, discover_bundles, load_bundle, read_manifest
from model.text import TextEncoder, pad_batch

log = logging.getLogger(__name__)

# real inputs of different lengths, in both shipped languages, run once per model before ready
WARMUP_TEXTS = (
    "good",
    "This movie was fine, not great, but the actors did a decent job.",
    "정말 재미있는 영화였어요. 배우들의 연기가 훌륭했습니다.",
)


class StartupError(RuntimeError):
    """The service cannot start as configured; the message names the file or setting."""


@dataclass
class ServedModel:
    bundle: Bundle
    encoder: TextEncoder
    runtime: ModelRuntime
    batcher: Batcher | None = None  # set once the service starts it

    @property
    def name(self) -> str:
        return self.bundle.manifest.name

    @property
    def labels(self) -> list[str]:
        return self.bundle.manifest.labels

    @property
    def batch_workers(self) -> int:
        return self.batcher.limits.workers if self.batcher else 0

    @property
    def max_length(self) -> int:
        return self.bundle.manifest.max_length

    def describe(self) -> dict[str, Any]:
        manifest = self.bundle.manifest
        variant = manifest.variants[self.runtime.variant]
        return {
            "name": manifest.name,
            "version": manifest.version,
            "language": manifest.language,
            "labels": manifest.labels,
            "max_length": manifest.max_length,
            "metrics": variant.metrics,
            "runtime": {**self.runtime.describe(), "batch_workers": self.batch_workers},
            "manifest": manifest.to_json(),
        }


@dataclass
class ModelRegistry:
    models: dict[str, ServedModel]
    default: str
    failed: dict[str, str] = field(default_factory=dict)  # refused bundle -> reason

    def get(self, name: str | None) -> ServedModel:
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


def load_model(folder: Path, variant: str | None, config: RuntimeConfig) -> ServedModel:
    bundle = load_bundle(folder)
    chosen = variant or bundle.manifest.default_variant
    runtime = open_session(bundle.model_path(chosen), chosen, config)
    encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
    model = ServedModel(bundle, encoder, runtime)
    warm_up(model)
    return model


def warm_up(model: ServedModel) -> None:
    """Run real inputs of several lengths, alone and as one batch, so the first request is fast.

    Also checks the graph against the manifest: one logit per label.
    """
    long_text = " ".join([WARMUP_TEXTS[1]] * (model.max_length // 4 + 1))
    rows = [e.ids for e in model.encoder.encode_batch([*WARMUP_TEXTS, long_text])]
    for row in rows:
        model.runtime.logits(pad_batch([row]))
    logits = model.runtime.logits(pad_batch(rows))
    if logits.shape != (len(rows), len(model.labels)):
        raise BundleError(
            f"{model.bundle.directory}: the graph gives logits of shape {logits.shape} for "
            f"{len(rows)} texts, but the manifest has {len(model.labels)} labels"
        )


def load_registry(settings: Settings, config: RuntimeConfig) -> ModelRegistry:
    """Load, verify and warm every selected bundle (blocking: run it in a thread)."""
    names = bundle_names(settings.model_dir)
    selected, required = choose(names, settings.models, settings.default_model)
    models: dict[str, ServedModel] = {}
    failed: dict[str, str] = {}
    for name in selected:
        try:
            models[name] = load_model(names[name], settings.variant, config)
        except Exception as exc:  # ORT and tokenizers raise their own types; any failure refuses
            if name in required:
                raise StartupError(f"model {name!r} cannot be served: {exc}") from exc
            log.error("refusing bundle %s: %s", names[name], exc)
            failed[name] = str(exc)
            continue
        log.info("model loaded", extra={"model": name, **models[name].runtime.describe()})
    if not models:
        raise StartupError(f"no bundle in {settings.model_dir} could be served: {failed}")
    default = settings.default_model
    if default not in models:
        default = next(iter(models))
        log.warning("default model %r is not served; using %r", settings.default_model, default)
    return ModelRegistry(models, default, failed)
