"""The exported teacher in ONNX Runtime: texts -> logits, torch-free (labeller and bench)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.runtime import cpu_session, softmax
from training.teacher.text import TeacherTokenizer, pad_rows

GRAPHS = {"fp32": "teacher.onnx", "int8": "teacher.int8.onnx"}
CARD = "teacher.json"


def present_variant(folder: Path, card: dict) -> str:
    """The graph that labelled the transfer set, or, where only the other one was kept (packed
    artifacts hold no graph over the file-size limit), that one."""
    labeller = card.get("labeller_variant", "fp32")
    present = [v for v in (labeller, *GRAPHS) if (folder / GRAPHS[v]).exists()]
    if not present:
        raise FileNotFoundError(f"{folder}: no teacher graph ({', '.join(GRAPHS.values())})")
    return present[0]


class TeacherOnnx:
    """One exported teacher graph. Batches are cut from texts sorted by length (little padding);
    answers come back in input order."""

    def __init__(self, folder: Path, variant: str = "", threads: int = 0) -> None:
        self.folder = Path(folder)
        self.card = json.loads((self.folder / CARD).read_text())
        self.variant = variant or present_variant(self.folder, self.card)
        data = self.card["data"]
        self.tokenizer = TeacherTokenizer(
            self.folder / "tokenizer.json",
            data["max_tokens"],
            data["tail_tokens"],
            data.get("emoji_names", False),
        )
        self.session = cpu_session(self.folder / GRAPHS[self.variant], threads)
        self.labels: list[str] = self.card["labels"]

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self.logits_of_rows(self.tokenizer.ids(texts), batch_size)

    def logits_of_rows(self, rows: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """Word-piece rows (`self.tokenizer.ids`) -> logits [N, C], in input order."""
        order = np.argsort([len(r) for r in rows], kind="stable")
        out = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            ids, mask = pad_rows([rows[i] for i in picked])
            out[picked] = self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[
                0
            ]
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(texts))
