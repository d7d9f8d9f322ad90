"""Text to token ids, the one implementation that training and serving share.

The whole text pipeline (normalisation, pre-tokenisation, subword model) lives in the bundle's
`tokenizer.json`; this module only adds the head-and-tail truncation and padding around it, and
sends the texts that allow it through a leaner copy of the tokenizer with the same answers
(`model.lean_tokenizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tokenizers import Encoding, Tokenizer

from model.bundle import Truncation
from model.lean_tokenizer import lean_tokenizer
from model.windows import cut, filled

# Which tokens a text over max_length keeps: the bundle's head and tail (None, the default),
# "left" cuts the left side (keeps the last max_length), "right" cuts the right side (keeps the
# first max_length), as Hugging Face tokenizers and TEI name the side that is cut.
Direction = Literal["left", "right"]

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
PAD_ID = 0
UNK_ID = 1


@dataclass(frozen=True)
class EncodedText:
    """One text after tokenisation and truncation.

    `ids` is never empty: a text whose normalised form holds no token becomes a single [UNK], so
    every row reaching the model has a length of at least one. Tokens and offsets are sliced
    from the Rust encoding only when asked for, since `/predict` needs only the ids. A text
    encoded from its head and tail windows (`scoring_encodings`) has no encoding either: its ids
    are exact, `full_length` is a lower bound over max_length, and it is only ever scored.
    """

    ids: list[int]
    full_length: int  # tokens before truncation
    encoding: Encoding | None
    head: int  # tokens kept from the start; the rest of `ids` comes from the end

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.ids)

    def _slice(self, items: list) -> list:
        return items if not self.truncated else _keep(items, self.head, len(self.ids) - self.head)

    @property
    def tokens(self) -> list[str]:
        return self._slice(self.encoding.tokens) if self.encoding else [UNK_TOKEN]

    @property
    def offsets(self) -> list[tuple[int, int]]:
        return [tuple(o) for o in self._slice(self.encoding.offsets)] if self.encoding else [(0, 0)]

    def __len__(self) -> int:
        return len(self.ids)


def _keep(items: list, head: int, tail: int) -> list:
    return items[:head] + (items[-tail:] if tail else [])


class TextEncoder:
    """Tokenizer plus the bundle's truncation rule."""

    def __init__(self, tokenizer: Tokenizer, truncation: Truncation) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.truncation = truncation
        self.lean = lean_tokenizer(tokenizer)

    @classmethod
    def from_file(cls, path: Path | str, truncation: Truncation) -> TextEncoder:
        return cls(Tokenizer.from_file(str(path)), truncation)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def head_tokens(self, direction: Direction | None) -> int:
        """Tokens kept from the start of a text over max_length (the rest from its end)."""
        if direction is None:
            return self.truncation.head_tokens
        return 0 if direction == "left" else self.truncation.max_length

    def sides(self, direction: Direction | None) -> tuple[int, int]:
        """(tokens kept from the start, tokens kept from the end) of a text over max_length."""
        head = self.head_tokens(direction)
        return head, self.truncation.max_length - head

    def truncate(self, encoding: Encoding, direction: Direction | None = None) -> EncodedText:
        ids = encoding.ids
        full = len(ids)
        if full == 0:
            return EncodedText([UNK_ID], 0, None, 1)
        head, tail = self.sides(direction)
        if full > self.truncation.max_length:
            ids = _keep(ids, head, tail)
        return EncodedText(ids, full, encoding, head)

    def _takes_lean(self, text: str) -> bool:
        return self.lean is not None and self.lean.fits(text)

    def _tokenizer_for(self, lean: bool) -> Tokenizer:
        return self.lean.tokenizer if lean and self.lean is not None else self.tokenizer

    def raw_encoding(self, text: str) -> Encoding:
        """The untruncated encoding, from the lean tokenizer when the text allows it."""
        tokenizer = self._tokenizer_for(self._takes_lean(text))
        return tokenizer.encode(text, add_special_tokens=False)

    def raw_encodings(self, texts: Sequence[str]) -> list[Encoding]:
        """Untruncated encodings in input order: one `encode_batch` call per tokenizer used."""
        lean = [self._takes_lean(t) for t in texts]
        encoded = {choice: iter(self._encode_group(texts, lean, choice)) for choice in set(lean)}
        return [next(encoded[choice]) for choice in lean]

    def _encode_group(self, texts: Sequence[str], lean: list[bool], choice: bool) -> list[Encoding]:
        group = [t for t, c in zip(texts, lean, strict=True) if c == choice]
        return self._tokenizer_for(choice).encode_batch(group, add_special_tokens=False)

    def encode(self, text: str, direction: Direction | None = None) -> EncodedText:
        return self.truncate(self.raw_encoding(text), direction)

    def encode_batch(
        self, texts: Sequence[str], direction: Direction | None = None
    ) -> list[EncodedText]:
        """Encode many texts; the Rust tokenizer spreads them over its own threads."""
        return [self.truncate(e, direction) for e in self.raw_encodings(texts)]

    def scoring_encodings(
        self, texts: Sequence[str], directions: Sequence[Direction | None]
    ) -> list[EncodedText]:
        """Truncated ids for scoring, in input order: a text long enough is tokenized as a head
        and a tail window (`model.windows`; the same ids, no tokens or offsets), the others
        whole, in one `encode_batch` call for all the pieces."""
        plans = [self._windows(t, d) for t, d in zip(texts, directions, strict=True)]
        pieces = [p for text, plan in zip(texts, plans, strict=True) for p in plan or [text]]
        encodings = iter(self.raw_encodings(pieces))
        encoded = []
        for text, plan, direction in zip(texts, plans, directions, strict=True):
            if plan is None:
                encoded.append(self.truncate(next(encodings), direction))
                continue
            windowed = self._joined(next(encodings), next(encodings), direction)
            encoded.append(windowed or self.encode(text, direction))
        return encoded

    def _windows(self, text: str, direction: Direction | None) -> tuple[str, str] | None:
        windows = cut(text, *self.sides(direction))
        return None if windows is None else (text[: windows.head_end], text[windows.tail_start :])

    def _joined(
        self, head_part: Encoding, tail_part: Encoding, direction: Direction | None
    ) -> EncodedText | None:
        """The kept ids from the two windows, or None when either holds too few tokens to
        leave its margin unused (the text is then tokenized whole)."""
        head, tail = self.sides(direction)
        if not filled(len(head_part.ids), len(tail_part.ids), head, tail):
            return None
        ids = head_part.ids[:head] + _keep(tail_part.ids, 0, tail)
        # a lower bound of the whole text's count: above max_length, so `truncated` holds
        return EncodedText(ids, len(head_part.ids) + len(tail_part.ids), None, head)

    def ids_only(self, texts: Sequence[str]) -> list[list[int]]:
        """Just the truncated ids, the cheap path for training data."""
        return [e.ids for e in self.encode_batch(texts)]


def pad_batch(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """Right-pad rows of ids with PAD_ID into an int64 matrix [batch, longest]."""
    longest = max(len(r) for r in rows)
    matrix = np.full((len(rows), longest), PAD_ID, dtype=np.int64)
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = row
    return matrix
