"""Classify texts with a bundle through ONNX Runtime alone, as the service will."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from model.bundle import Bundle
from model.cascade import CascadeRule
from model.runtime import cpu_session, run_logits, softmax
from model.text import TextEncoder, pad_batch


def logits_for_rows(
    session: ort.InferenceSession, rows: Sequence[Sequence[int]], width: int, batch_size: int
) -> np.ndarray:
    """Logits [N, C] in row order; rows are run sorted by length to keep padding small."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = np.empty((len(rows), width), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        ids = pad_batch([rows[i] for i in chosen])
        out[chosen] = run_logits(session, ids)
    return out


class OnnxClassifier:
    """A bundle's graph (the whole model, or with `cascade` its fast path first)."""

    def __init__(
        self, bundle: Bundle, variant: str | None = None, threads: int = 0, cascade: bool = False
    ) -> None:
        self.bundle = bundle
        self.encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
        self.session = cpu_session(bundle.model_path(variant), threads)
        self.fast = cpu_session(bundle.fast_path, threads) if cascade and bundle.fast_path else None
        self.rule = CascadeRule.from_manifest(bundle.manifest.cascade)
        self.rows_seen = self.rows_fast = 0  # cascade counters, for the fast fraction

    def probabilities_for_rows(
        self, rows: Sequence[Sequence[int]], batch_size: int = 64
    ) -> np.ndarray:
        """Probabilities [N, C]; with the cascade, the rows its rule lets try the fast graph (at
        least `min_tokens` tokens) run it first, and those below its threshold (and all shorter
        rows) run the whole model (`model.cascade`, as the service)."""
        width = len(self.bundle.manifest.labels)
        if self.fast is None:
            return softmax(logits_for_rows(self.session, rows, width, batch_size))
        probs = np.zeros((len(rows), width))
        tried = np.flatnonzero(self.rule.tries([len(row) for row in rows])).tolist()
        if tried:
            fast = [rows[i] for i in tried]
            probs[tried] = softmax(logits_for_rows(self.fast, fast, width, batch_size))
        answered = np.zeros(len(rows), dtype=bool)
        answered[tried] = self.rule.confident(probs[tried])
        slow = np.flatnonzero(~answered)
        self.rows_seen += len(rows)
        self.rows_fast += len(rows) - len(slow)
        if len(slow):
            chosen = [rows[i] for i in slow]
            probs[slow] = softmax(logits_for_rows(self.session, chosen, width, batch_size))
        return probs

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self.probabilities_for_rows(self.encoder.ids_only(texts), batch_size)
