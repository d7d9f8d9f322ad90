"""Metrics from predicted probabilities: accuracy, macro-F1, confusion matrix, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def macro_f1(matrix: np.ndarray) -> float:
    true_pos = np.diag(matrix).astype(float)
    precision = np.divide(
        true_pos, matrix.sum(0), out=np.zeros_like(true_pos), where=matrix.sum(0) > 0
    )
    recall = np.divide(
        true_pos, matrix.sum(1), out=np.zeros_like(true_pos), where=matrix.sum(1) > 0
    )
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
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


def classification_metrics(
    probabilities: np.ndarray, labels: np.ndarray, label_names: list[str]
) -> dict[str, Any]:
    """Everything `evaluate` reports for one labelled set; JSON-ready."""
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(label_names))
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": macro_f1(matrix),
        "ece": expected_calibration_error(probabilities, labels),
        "confusion_matrix": matrix.tolist(),
        "labels": list(label_names),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
