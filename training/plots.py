"""PNG plots: confusion matrices and learning curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt


def confusion_png(matrix: list[list[int]], labels: list[str], title: str, path: Path) -> Path:
    size = max(3.5, 1.2 * len(labels) + 1.5)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(matrix, cmap="Blues")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > top / 2 else "black"
            axes.text(j, i, f"{count:,}", ha="center", va="center", color=colour)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def learning_curves_png(
    history: list[dict[str, Any]], steps: list[dict[str, float]], title: str, path: Path
) -> Path:
    """Loss (sampled steps and per epoch) and accuracy per epoch, train vs validation.

    Epochs are counted across ensemble members, which train one after another.
    """
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = list(range(1, len(history) + 1))
    per_epoch = max(1, steps[-1]["step"] // max(1, len(history))) if steps else 1
    if steps:
        loss_axes.plot(
            [s["step"] / per_epoch for s in steps],
            [s["loss"] for s in steps],
            alpha=0.35,
            label="train loss (batches)",
        )
    losses = (("train_loss", "train loss (recurrent)"), ("val_loss", "validation loss (mixed)"))
    for key, label in losses:
        if history and all(key in h for h in history):
            loss_axes.plot(epochs, [h[key] for h in history], marker="o", label=label)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("cross-entropy")
    loss_axes.legend()
    # train accuracy, the validation score that picks the best epoch, and each member's
    # validation score alone (the per-file scores are in the run's history)
    keys = ["train_accuracy", "val_score"]
    keys += sorted({k for h in history for k in h if k.startswith("val_member_")})
    for key in keys:
        points = [(x, h[key]) for x, h in zip(epochs, history, strict=True) if key in h]
        if not points:
            continue
        label = key.replace("val_member_", "validation, ").replace("val_score", "validation score")
        acc_axes.plot(*zip(*points, strict=True), marker="o", label=label.replace("_", " "))
    for x, (before, after) in enumerate(itertools.pairwise(history), start=1):
        if before.get("member") != after.get("member"):
            acc_axes.axvline(x + 0.5, color="grey", linestyle=":")  # next ensemble member
    acc_axes.set_xlabel("epoch (all members)")
    acc_axes.set_ylabel("accuracy / mean macro recall")
    acc_axes.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
