"""Limits a request's texts must meet before any work is queued: how many, how long, valid text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.errors import InvalidInput, PayloadTooLarge

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class TextLimits:
    max_texts: int
    max_text_chars: int


def check_texts(texts: Sequence[str], limits: TextLimits) -> None:
    if len(texts) > limits.max_texts:
        raise InvalidInput(
            f"{len(texts)} texts in one request; send at most {limits.max_texts} per request"
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_text_chars:
            raise PayloadTooLarge(
                f"texts[{i}] has {len(text)} characters; the limit is {limits.max_text_chars}"
            )
        if not text.strip():
            raise InvalidInput(f"texts[{i}] is empty or only whitespace; send some text")
        if not text.isascii() and _SURROGATE.search(text):
            # JSON allows escapes like "\ud800" that decode to half a UTF-16 pair: not Unicode
            raise InvalidInput(
                f"texts[{i}] holds a lone UTF-16 surrogate escape (\\ud800-\\udfff); "
                "send valid Unicode"
            )
