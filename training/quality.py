"""How good predicted probabilities are: accuracy, macro recall and F1, confusion, calibration.

A set labelled with fewer labels than the model has (a binary set for a three-label model) is
scored on the probabilities renormalised over its own labels: for negative/positive sets that
compares P(positive) with P(negative), and its calibration is measured on those two numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)


def macro_recall(matrix: np.ndarray) -> float:
    """Mean recall over the labels present in the set (TweetEval's official score)."""
    present = matrix.sum(1) > 0
    recall = _ratio(np.diag(matrix).astype(float), matrix.sum(1).astype(float))
    return float(recall[present].mean()) if present.any() else 0.0


def macro_f1(matrix: np.ndarray) -> float:
    true_pos = np.diag(matrix).astype(float)
    precision = _ratio(true_pos, matrix.sum(0).astype(float))
    recall = _ratio(true_pos, matrix.sum(1).astype(float))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return float(f1.mean())


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by bin size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def calibrated_ece(probabilities: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model would still show on a set of this size: the mean
    ECE over `draws` sets of labels drawn from `probabilities` themselves. On a few hundred
    texts it is far from 0, so a measured ECE is read against it."""
    rng = np.random.default_rng(seed)
    cumulative = probabilities.cumsum(axis=1)
    errors = []
    for _ in range(draws):
        drawn = (rng.random((len(probabilities), 1)) > cumulative).sum(axis=1)
        errors.append(
            expected_calibration_error(probabilities, np.minimum(drawn, cumulative.shape[1] - 1))
        )
    return float(np.mean(errors))


def restrict(probabilities: np.ndarray, labels: np.ndarray, keep: Sequence[int]) -> tuple:
    """Probabilities renormalised over the label indices `keep`, and labels re-indexed to them."""
    kept = probabilities[:, list(keep)]
    kept = kept / kept.sum(axis=1, keepdims=True)
    position = {label: i for i, label in enumerate(keep)}
    return kept, np.array([position[int(y)] for y in labels], dtype=np.int64)


def classification_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    keep: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Everything `evaluate` reports for one labelled set; JSON-ready. `keep`: the indices of
    the labels the set uses (default: all)."""
    keep = list(range(len(label_names))) if keep is None else list(keep)
    probs, targets = restrict(probabilities, labels, keep)
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(targets, predicted, len(keep))
    return {
        "n": len(labels),
        "accuracy": float((predicted == targets).mean()),
        "macro_recall": macro_recall(matrix),
        "macro_f1": macro_f1(matrix),
        "ece": expected_calibration_error(probs, targets),
        "confusion_matrix": matrix.tolist(),
        "labels": [label_names[i] for i in keep],
    }


def labels_in(allowed_bits: int, num_labels: int) -> list[int]:
    """Label indices whose bit is set (-1: every label)."""
    return [c for c in range(num_labels) if allowed_bits & (1 << c)]
