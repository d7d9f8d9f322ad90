"""Drift signals shared by training and serving: the buckets of the served metrics and a
bundle's validation baseline in the same buckets (torch-free; numpy only).

The service counts predictions by label, a histogram of the top probability (confidence) and a
histogram of token counts per text (`app/ops/drift.py`); the manifest's `baseline` holds the
same three figures measured on the validation rows at export time (or later by
`python -m training baseline`), so that Prometheus can compare live traffic against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

# Upper bounds (Prometheus `le`) of the confidence histogram: the top probability is at least
# 1/C (0.33 with three labels, 0.5 with two), so the buckets start there and are finer near 1.
CONFIDENCE_BUCKETS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
# Upper bounds of the tokens-per-text histogram (after truncation: at most max_length).
LENGTH_BUCKETS = (8, 16, 32, 64, 128, 256, 512)


def le_label(bound: float) -> str:
    """A bucket bound as Prometheus writes it in the `le` label (64 -> "64.0")."""
    return repr(float(bound))


def bucket_counts(values: np.ndarray, bounds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Counts per bucket [len(bounds) + 1], not cumulative: bucket i holds bounds[i-1] < v <=
    bounds[i] (Prometheus' `le`), the last one everything above the largest bound."""
    index = np.searchsorted(bounds, values, side="left")
    return np.bincount(index, minlength=len(bounds) + 1)


def cumulative_shares(counts: np.ndarray, bounds: Sequence[float]) -> dict[str, float]:
    """{le: share of values <= le}, the last key "+Inf" (always 1.0)."""
    total = max(1, int(counts.sum()))
    running = np.cumsum(counts) / total
    keys = [le_label(b) for b in bounds] + ["+Inf"]
    return {key: round(float(share), 6) for key, share in zip(keys, running, strict=True)}


def compute_baseline(
    probabilities: np.ndarray, lengths: Sequence[int], labels: Sequence[str], source: str
) -> dict[str, Any]:
    """The baseline of one bundle from its served probabilities [N, C] on validation rows and
    each row's token count: label shares of the argmax, mean top probability, and the share of
    texts at or under each length bucket. `source` says which rows (for the reader)."""
    if len(probabilities) == 0:
        raise ValueError("a baseline needs at least one scored row")
    top = probabilities.argmax(axis=1)
    shares = np.bincount(top, minlength=len(labels)) / len(top)
    label_shares = {label: round(float(s), 6) for label, s in zip(labels, shares, strict=True)}
    lengths_array = np.asarray(lengths, dtype=np.float64)
    return {
        "rows": len(top),
        "source": source,
        "label_shares": label_shares,
        "mean_confidence": round(float(probabilities.max(axis=1).mean()), 6),
        "confidence_buckets": cumulative_shares(
            bucket_counts(probabilities.max(axis=1), CONFIDENCE_BUCKETS), CONFIDENCE_BUCKETS
        ),
        "length_buckets": cumulative_shares(
            bucket_counts(lengths_array, LENGTH_BUCKETS), LENGTH_BUCKETS
        ),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
