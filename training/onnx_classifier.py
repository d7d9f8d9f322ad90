"""Classify texts with a bundle through ONNX Runtime alone, as the service will."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from model.bundle import Bundle, load_bundle
from model.text import TextEncoder, pad_batch
from training.metrics import softmax


class OnnxClassifier:
    def __init__(self, bundle: Bundle, variant: str | None = None, threads: int = 0) -> None:
        self.bundle = bundle
        self.encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(bundle.model_path(variant)), options, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_dir(cls, directory: Path | str, variant: str | None = None) -> OnnxClassifier:
        return cls(load_bundle(directory), variant)

    def logits_for_rows(self, rows: Sequence[Sequence[int]], batch_size: int = 64) -> np.ndarray:
        """Logits [N, C] in row order; rows are run sorted by length to keep padding small."""
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), len(self.bundle.manifest.labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            ids = pad_batch([rows[i] for i in chosen])
            out[chosen] = self.session.run(["logits"], {"input_ids": ids})[0]
        return out

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return softmax(self.logits_for_rows(self.encoder.ids_only(texts), batch_size))
