"""The cascade rule: which rows of a batch a bundle's fast graph answers (torch-free).

A bundle with a cascade carries a cheap graph (`fast.onnx`) beside the whole model, and two
numbers in its manifest, both chosen on validation at export (`training/cascade.py`): a row
tries the fast graph when it has at least `min_tokens` tokens, and is answered there when its
top fast-graph probability reaches `threshold`; every other row runs the whole model. A row's
path depends on that row alone, so an answer never depends on its batch neighbours.

The service (`app.core.scoring`) and training's measurements (`training/onnx_classifier.py`,
`training/cascade.py`) apply this one rule. Probabilities are compared in float32, the
precision of the graphs' logits and of the thresholds chosen at export (each is a float32
probability): the top probability and the threshold are both rounded to float32 first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FAST, FULL = "fast", "full"  # which graph answered a row
NO_CASCADE = 1.01  # a threshold no probability reaches: every row runs the whole model


@dataclass(frozen=True, slots=True)
class CascadeRule:
    threshold: float = NO_CASCADE
    min_tokens: int = 0

    @classmethod
    def from_manifest(cls, cascade: Mapping[str, Any]) -> CascadeRule:
        """The rule a manifest's `cascade` section states (empty: no row takes the fast path)."""
        return cls(float(cascade.get("threshold", NO_CASCADE)), int(cascade.get("min_tokens", 0)))

    def tries(self, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
        """Per row, whether it is long enough to try the fast graph at all: bool [N]."""
        return np.asarray(lengths, dtype=np.int64) >= self.min_tokens

    def confident(self, fast_probabilities: np.ndarray) -> np.ndarray:
        """Per row of fast-graph probabilities [K, C], whether its top probability reaches the
        threshold (in float32): bool [K]."""
        top = np.asarray(fast_probabilities).max(axis=1).astype(np.float32)
        return top >= np.float32(self.threshold)

    def fast_rows(
        self, fast_probabilities: np.ndarray, lengths: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Per row, whether the fast graph answers it, given its probabilities on every row."""
        return self.tries(lengths) & self.confident(fast_probabilities)
