"""Evaluate a bundle on labelled files: metrics JSON, confusion-matrix and learning-curve PNGs."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from model.bundle import CARD_FILE, Bundle, write_manifest
from training import checkpoint
from training.card import render_card
from training.config import DataFile
from training.data import ReadOptions, read_labelled
from training.plots import confusion_png, learning_curves_png
from training.quality import classification_metrics, labels_in

log = logging.getLogger(__name__)
CHUNK = 2048


class ProbabilityModel(Protocol):
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def evaluate_texts(
    model: ProbabilityModel,
    texts: Sequence[str],
    labels: Sequence[int],
    label_names: list[str],
    progress: bool = False,
    keep: Sequence[int] | None = None,
) -> dict[str, Any]:
    chunks = range(0, len(texts), CHUNK)
    parts = [
        model.predict_proba(texts[i : i + CHUNK])
        for i in tqdm(chunks, desc="evaluating", unit="chunk", disable=not progress)
    ]
    probabilities = np.concatenate(parts)
    return classification_metrics(probabilities, np.asarray(labels), label_names, keep)


def evaluate_file(
    model: ProbabilityModel,
    bundle: Bundle,
    path: Path,
    options: ReadOptions,
    out_dir: Path,
    variant: str,
) -> dict[str, Any]:
    """Metrics for one file, written as `<set>.<variant>.metrics.json` and `.confusion.png`."""
    data = read_labelled(path, options)
    labels = bundle.manifest.labels
    keep = labels_in(options.file_mask(), len(labels))
    metrics = evaluate_texts(model, data.texts, data.labels, labels, progress=True, keep=keep)
    name = DataFile(str(path)).name
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{name}.{variant}"
    Path(f"{stem}.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    title = f"{bundle.name} ({variant}) on {name}\naccuracy {100 * metrics['accuracy']:.2f}%"
    confusion_png(
        metrics["confusion_matrix"], metrics["labels"], title, Path(f"{stem}.confusion.png")
    )
    return metrics


def plot_run(run_dir: Path, out_dir: Path) -> Path:
    """Learning curves from a run's last checkpoint (its history of epochs and sampled steps)."""
    progress = checkpoint.restore_progress(checkpoint.load(run_dir / checkpoint.LAST))
    out_dir.mkdir(parents=True, exist_ok=True)
    return learning_curves_png(
        progress.history,
        progress.steps,
        f"learning curves: {run_dir.name}",
        out_dir / "learning_curves.png",
    )


def record_metrics(bundle: Bundle, variant: str, name: str, metrics: dict[str, Any]) -> None:
    """Store metrics in the bundle's manifest and model card (re-hashing both), so the service
    and the card report them."""
    bundle.manifest.variants[variant].metrics[name] = metrics
    (bundle.directory / CARD_FILE).write_text(render_card(bundle.manifest), encoding="utf-8")
    write_manifest(bundle.directory, bundle.manifest)
