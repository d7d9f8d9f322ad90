"""From a finished run to a verified model bundle: export, check, quantise, measure, describe."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.bundle import (
    CARD_FILE,
    INT8_MODEL_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Manifest,
    Variant,
    write_manifest,
)
from model.text import PAD_ID, TextEncoder, pad_batch
from training import checkpoint
from training.card import render_card
from training.config import TrainConfig
from training.evaluate import evaluate_texts
from training.export import export_onnx, quantize_int8, verify_export
from training.models import SentimentClassifier
from training.onnx_classifier import OnnxClassifier
from training.prepare import TOKENIZER_NAME, read_test_data, read_training_data, truncation_of

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
        quantize_int8(folder / MODEL_FILE, folder / INT8_MODEL_FILE)
    return report


def _manifest(
    config: TrainConfig,
    model: SentimentClassifier,
    report: dict[str, Any],
    variants: dict[str, Variant],
) -> Manifest:
    return Manifest(
        name=config.name,
        version=config.version,
        language=config.language,
        labels=list(config.labels),
        truncation=truncation_of(config),
        pad_id=PAD_ID,
        opset=config.opset,
        variants=variants,
        architecture={**dataclasses.asdict(model.spec), "export_checks": report},
        training_config=config.to_dict(),
        library_versions=library_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _measure(folder: Path, manifest: Manifest, config: TrainConfig, sets: dict[str, Any]) -> None:
    """Evaluate every variant on every set with ONNX Runtime; results go into the manifest."""
    from model.bundle import load_bundle

    bundle = load_bundle(folder)
    for key, variant in manifest.variants.items():
        classifier = OnnxClassifier(bundle, key)
        for name, data in sets.items():
            variant.metrics[name] = evaluate_texts(
                classifier, data.texts, data.labels, list(config.labels)
            )
            log.info("%s %s: accuracy %.4f", key, name, variant.metrics[name]["accuracy"])


def choose_default(manifest: Manifest, config: TrainConfig) -> str:
    """fp32, or int8 when asked for and within `int8_tolerance` points on validation."""
    if "int8" not in manifest.variants or not config.int8_default:
        return "fp32"
    fp32 = manifest.variants["fp32"].metrics["validation"]["accuracy"]
    int8 = manifest.variants["int8"].metrics["validation"]["accuracy"]
    return "int8" if 100 * (fp32 - int8) <= config.int8_tolerance else "fp32"


def export_bundle(run_dir: Path, out_dir: Path, quantize: bool | None = None) -> Path:
    """Write a verified bundle for the best checkpoint of `run_dir` into `out_dir`."""
    model, config = checkpoint.restore_model(checkpoint.load(run_dir / checkpoint.BEST))
    quantize = config.quantize if quantize is None else quantize
    encoder = TextEncoder.from_file(run_dir / TOKENIZER_NAME, truncation_of(config))
    _, validation = read_training_data(config)
    rows = mixed_length_rows(encoder.ids_only(validation.texts), VERIFY_ROWS)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    report = _write_graphs(model, config, rows, staging, quantize)
    shutil.copyfile(run_dir / TOKENIZER_NAME, staging / TOKENIZER_FILE)
    variants = {"fp32": Variant(MODEL_FILE, "fp32")}
    if quantize:
        variants["int8"] = Variant(INT8_MODEL_FILE, "int8")
    manifest = _manifest(config, model, report, variants)
    write_manifest(staging, manifest)
    _measure(staging, manifest, config, {"validation": validation, **read_test_data(config)})
    manifest.default_variant = choose_default(manifest, config)
    (staging / CARD_FILE).write_text(render_card(manifest), encoding="utf-8")
    write_manifest(staging, manifest)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    log.info("bundle written to %s (default variant %s)", out_dir, manifest.default_variant)
    return out_dir
