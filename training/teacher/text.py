"""The teacher's word pieces: the encoder package's own tokenizer.json, cut head + tail.

Torch-free, so the ONNX labeller and bench use exactly what training used.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


@lru_cache(maxsize=4096)
def _spelled(character: str) -> str:
    """An emoji or pictograph -> its Unicode name in words; joiners, variation selectors and
    skin tones -> nothing; any other character -> itself."""
    category = unicodedata.category(character)
    if category == "So" and ord(character) >= 0x2000:
        return f" ({unicodedata.name(character, '').lower()}) "
    if category in ("Cf", "Mn", "Sk") and ord(character) >= 0x2000:
        return ""
    return character


def emoji_in_words(text: str) -> str:
    """'love it 😍' -> 'love it  (smiling face with heart-shaped eyes) ': a BERT vocabulary reads
    most emoji as [UNK], but it reads their names."""
    return "".join(_spelled(c) for c in text) if any(ord(c) >= 0x2000 for c in text) else text


class TeacherTokenizer:
    """Texts -> (input_ids, attention_mask) int64 [B, T], T = longest row of the batch."""

    def __init__(
        self, path: Path, max_tokens: int, tail_tokens: int, emoji_names: bool = False
    ) -> None:
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_tokens, self.tail_tokens = max_tokens, min(tail_tokens, max_tokens - 2)
        self.unknown_id = self.tokenizer.token_to_id("[UNK]")
        self.emoji_names = emoji_names

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """[CLS] pieces [SEP] per text; a long text keeps its head and its last tail_tokens."""
        if self.emoji_names:
            texts = [emoji_in_words(t) for t in texts]
        rows = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        return [self._cut(row) for row in rows]

    def _cut(self, row: list[int]) -> list[int]:
        if len(row) <= self.max_tokens:
            return row
        body = row[1:-1]
        tail = self.tail_tokens
        head = self.max_tokens - 2 - tail
        return [row[0], *body[:head], *(body[-tail:] if tail else []), row[-1]]


def pad_rows(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad with 0 ([PAD] in BERT vocabularies); the mask marks real pieces."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask
