"""From a finished run to a verified model bundle: export, check, quantise, measure, describe."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.bundle import (
    CARD_FILE,
    INT8_MODEL_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Bundle,
    Manifest,
    Variant,
    write_manifest,
)
from model.runtime import cpu_session, run_logits
from model.text import PAD_ID, TextEncoder, pad_batch
from training import checkpoint
from training.baseline import measure_baseline
from training.card import render_card
from training.cascade import (
    FAST_FILE,
    FastPath,
    choose_threshold,
    fit_fast_calibration,
    length_rule,
    outcomes,
)
from training.config import TrainConfig, build_config
from training.data import LabelledTexts
from training.evaluate import evaluate_texts
from training.export import (
    ExportError,
    export_onnx,
    quantize_int8,
    share_large_initializers,
    verify_export,
)
from training.mix import (
    balanced_weights,
    fit_temperature,
    fold_temperature,
    member_logits,
    mixed,
)
from training.models import SentimentClassifier
from training.onnx_classifier import OnnxClassifier
from training.prepare import (
    TOKENIZER_NAME,
    EncodedSplit,
    encode,
    load_validation,
    read_test_sets,
    truncation_of,
)
from training.quality import labels_in

log = logging.getLogger(__name__)
VERIFY_ROWS = 24
LIBRARIES = ("torch", "onnx", "onnxruntime", "tokenizers", "numpy")


def library_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in LIBRARIES}


def mixed_length_rows(rows: list[list[int]], count: int) -> list[list[int]]:
    """`count` rows spread evenly from the shortest to the longest."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    picks = sorted({order[round(k * (len(order) - 1) / max(1, count - 1))] for k in range(count)})
    return [rows[i] for i in picks]


def _write_graphs(
    model: SentimentClassifier,
    config: TrainConfig,
    rows: list[list[int]],
    folder: Path,
    quantize: bool,
) -> dict[str, Any]:
    example = pad_batch(rows[:4])
    export_onnx(model, example, folder / MODEL_FILE, config.opset)
    report = verify_export(model, folder / MODEL_FILE, rows, example.shape[1])
    if quantize:
        quantize_int8(folder / MODEL_FILE, folder / INT8_MODEL_FILE, config.int8_tables)
    return report


@dataclasses.dataclass
class ValidationLogits:
    """Each member's logits on every validation row, computed once per export: the temperature
    and the cascade both need them, and folding a temperature into the mix leaves them as they
    are (it changes how members are mixed, not what they say)."""

    files: list[EncodedSplit]
    joined: EncodedSplit
    members: list[torch.Tensor]

    @classmethod
    def of(
        cls,
        model: SentimentClassifier,
        validation: dict[str, LabelledTexts],
        encoder: TextEncoder,
    ) -> ValidationLogits:
        files = [encode(encoder, data, name) for name, data in validation.items()]
        joined = EncodedSplit.concat(files, "validation")
        return cls(files, joined, member_logits(model, joined, 128, torch.device("cpu")))

    def mixed(self, model: SentimentClassifier) -> torch.Tensor:
        return mixed(model, self.members, torch.tensor(self.joined.lengths()))


def calibrate_for_natural_shares(model: SentimentClassifier, scored: ValidationLogits) -> float:
    """Fit a temperature on validation (files alike, labels at their own shares) and fold it
    into the mix; returns it (1.0 for a model without a mix, which has nothing to fold into)."""
    if len(model.member_names) < 2:
        return 1.0
    weights = balanced_weights(scored.files, balance_labels=False)
    temperature = fit_temperature(scored.mixed(model), scored.joined, weights)
    fold_temperature(model, temperature)
    log.info("temperature %.4f fitted on validation (natural label shares), folded into the mix",
             temperature)  # fmt: skip
    return temperature


def _write_cascade(
    model: SentimentClassifier, config: TrainConfig, scored: ValidationLogits, folder: Path
) -> dict[str, Any]:
    """Calibrate the fast path, choose its threshold on validation, export and verify it."""
    files, joined, members = scored.files, scored.joined, scored.members
    full = scored.mixed(model)
    weights = balanced_weights(files, config.mix_balance_labels)
    scale, bias = fit_fast_calibration(members[-1], joined, weights)
    fast_path = FastPath(model, scale, bias)
    with torch.no_grad():
        fast = fast_path(torch.from_numpy(pad_batch(joined.rows)))
    probabilities = [torch.softmax(logits, 1).numpy() for logits in (fast, full)]
    outcome = outcomes(*probabilities, files, len(config.labels))
    threshold = choose_threshold(outcome, config.cascade_max_drop)
    rows = mixed_length_rows(joined.rows, VERIFY_ROWS)
    example = pad_batch(rows[:4])
    export_onnx(fast_path, example, folder / FAST_FILE, config.opset, arch="none")
    checks = verify_export(fast_path, folder / FAST_FILE, rows, example.shape[1])
    return {
        "file": FAST_FILE,
        "member": "ngram",
        "threshold": threshold,
        "max_drop": config.cascade_max_drop,
        "export_checks": checks,
        **length_rule(outcome, threshold),
        "metrics": {},
    }


def share_tables(folder: Path, ids: np.ndarray) -> list[str]:
    """Store the tables the graphs hold byte for byte once (the n-gram table of the whole model
    and the fast path; with fp32 tables in the int8 graph, the embedding too); every graph must
    answer exactly as before."""
    graphs = [name for name in (MODEL_FILE, FAST_FILE, INT8_MODEL_FILE) if (folder / name).exists()]
    before = [run_logits(cpu_session(folder / name), ids) for name in graphs]
    moved = share_large_initializers(folder, graphs)
    after = [run_logits(cpu_session(folder / name), ids) for name in graphs]
    if any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True)):
        raise ExportError("graphs answer differently once their tables are shared")
    log.info("stored once for every graph: %s", ", ".join(moved) or "nothing")
    return moved


def _manifest(
    config: TrainConfig,
    model: SentimentClassifier,
    report: dict[str, Any],
    variants: dict[str, Variant],
    data: list[dict[str, Any]],
) -> Manifest:
    return Manifest(
        name=config.name,
        version=config.version,
        language=config.language,
        labels=list(config.labels),
        binary_labels=list(config.binary_labels),
        training_data=data,
        truncation=truncation_of(config),
        pad_id=PAD_ID,
        opset=config.opset,
        variants=variants,
        architecture={**dataclasses.asdict(model.spec), "export_checks": report},
        training_config=config.to_dict(),
        library_versions=library_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _measure(
    folder: Path, manifest: Manifest, config: TrainConfig, sets: dict[str, LabelledTexts]
) -> None:
    """Evaluate every variant on every set with ONNX Runtime; results go into the manifest.

    A set scores on the labels it uses (a binary set: P(positive) against P(negative))."""
    from model.bundle import load_bundle

    bundle = load_bundle(folder)
    labels = list(config.labels)
    for key, variant in manifest.variants.items():
        classifier = OnnxClassifier(bundle, key)
        for name, data in sets.items():
            keep = labels_in(data.scored, len(labels))
            variant.metrics[name] = evaluate_texts(
                classifier, data.texts, data.labels, labels, keep=keep
            )
            log.info("%s %s: accuracy %.4f", key, name, variant.metrics[name]["accuracy"])
    if manifest.cascade:
        measure_cascade(bundle, manifest, labels, sets)


def measure_cascade(
    bundle: Any, manifest: Manifest, labels: list[str], sets: dict[str, LabelledTexts]
) -> None:
    """The served path (fast path first) on every set, beside the whole model's metrics."""
    classifier = OnnxClassifier(bundle, "fp32", cascade=True)
    for name, data in sets.items():
        classifier.rows_seen = classifier.rows_fast = 0
        metrics = evaluate_texts(
            classifier, data.texts, data.labels, labels, keep=labels_in(data.scored, len(labels))
        )
        metrics["fast_fraction"] = classifier.rows_fast / max(1, classifier.rows_seen)
        manifest.cascade["metrics"][name] = metrics
        log.info("cascade %s: accuracy %.4f, fast %.3f", name, metrics["accuracy"],
                 metrics["fast_fraction"])  # fmt: skip


def with_card_text(config: TrainConfig, toml_path: str) -> TrainConfig:
    return _with_card_of(config, build_config(toml_path, {}))


def _with_card_of(config: TrainConfig, current: TrainConfig) -> TrainConfig:
    """`config` with `current`'s model card text (release notes, known limits)."""
    return config.replace(release_notes=current.release_notes, known_limits=current.known_limits)


def as_release_of(config: TrainConfig, toml_path: str) -> TrainConfig:
    """The run's config as a new release of the same weights: another TOML's version, card text
    and [export] options (how the graphs are written: variants, cascade); everything the
    weights were trained with stays the run's."""
    current = build_config(toml_path, {})
    released = _with_card_of(config, current)
    return released.replace(version=current.version, **current.export.model_dump())


def _mean_accuracy(metrics: dict[str, dict[str, Any]]) -> float:
    scores = [m["accuracy"] for name, m in metrics.items() if name.startswith("validation")]
    return sum(scores) / len(scores)


def choose_default(manifest: Manifest, config: TrainConfig) -> str:
    """fp32, or int8 when asked for and within `int8_tolerance` points on validation."""
    if "int8" not in manifest.variants or not config.int8_default:
        return "fp32"
    fp32 = _mean_accuracy(manifest.variants["fp32"].metrics)
    int8 = _mean_accuracy(manifest.variants["int8"].metrics)
    return "int8" if 100 * (fp32 - int8) <= config.int8_tolerance else "fp32"


def export_bundle(
    run_dir: Path,
    out_dir: Path,
    quantize: bool | None = None,
    card_config: str | None = None,
    export_config: str | None = None,
) -> Path:
    """Write a verified bundle for the best checkpoint of `run_dir` into `out_dir`.

    `card_config`: a TOML whose documentation-only fields (release notes, known limits) replace
    the run's, so the model card can be corrected without training again. `export_config`: a
    TOML whose version, card text and [export] section replace the run's (a new release of the
    same weights, such as an int8 variant added).
    """
    payload = checkpoint.load(run_dir / checkpoint.BEST)
    model, config = checkpoint.restore_model(payload)
    if card_config:
        config = with_card_text(config, card_config)
    if export_config:
        config = as_release_of(config, export_config)
    progress = checkpoint.restore_progress(payload)
    quantize = config.quantize if quantize is None else quantize
    encoder = TextEncoder.from_file(run_dir / TOKENIZER_NAME, truncation_of(config))
    validation = load_validation(run_dir)
    cascade = config.cascade and model.ngrams is not None and model.recurrent is not None
    scored = None
    if config.temperature == "natural" or cascade:
        scored = ValidationLogits.of(model, validation, encoder)
    temperature = 1.0
    if config.temperature == "natural" and scored is not None:
        temperature = calibrate_for_natural_shares(model, scored)
    texts = [t for data in validation.values() for t in data.texts]
    rows = mixed_length_rows(encoder.ids_only(texts), VERIFY_ROWS)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    report = _write_graphs(model, config, rows, staging, quantize)
    shutil.copyfile(run_dir / TOKENIZER_NAME, staging / TOKENIZER_FILE)
    variants = {"fp32": Variant(MODEL_FILE, "fp32")}
    if quantize:
        variants["int8"] = Variant(INT8_MODEL_FILE, "int8")
    manifest = _manifest(config, model, report, variants, progress.data)
    manifest.architecture["temperature"] = temperature
    manifest.distillation = progress.distillation
    if cascade and scored is not None:
        manifest.cascade = _write_cascade(model, config, scored, staging)
        manifest.cascade["shared_tables"] = share_tables(staging, pad_batch(rows[:8]))
    write_manifest(staging, manifest)
    held = {f"validation:{name}": data for name, data in validation.items()}
    _measure(staging, manifest, config, {**held, **read_test_sets(config)})
    manifest.default_variant = choose_default(manifest, config)
    texts = {name: data.texts for name, data in validation.items()}
    source = f"validation rows of {config.name} {config.version} (all)"
    manifest.baseline = measure_baseline(Bundle(staging, manifest), texts, source)
    (staging / CARD_FILE).write_text(render_card(manifest), encoding="utf-8")
    write_manifest(staging, manifest)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    log.info("bundle written to %s (default variant %s)", out_dir, manifest.default_variant)
    return out_dir
