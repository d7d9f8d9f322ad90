"""Misspelt copies of texts: the typos people make, for a student that must read them.

A typo rarely changes what a sentence means, so a misspelt copy of a training row keeps the
row's label and the teacher's logits for the clean text; the student learns that "horible" and
"horrible" say the same. Each chosen word of four letters or more gets one edit: a letter
dropped, doubled, swapped with its neighbour, or replaced by a key beside it on a QWERTY
keyboard. Mentions, hashtags and links are left alone; the first letter is never touched (people
rarely get it wrong, and it keeps the word recognisable).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

# a word of 4+ ASCII letters, not part of a mention, hashtag, link, address or longer token
_WORD = re.compile(r"(?<![\w@#/:.'’-])[A-Za-z]{4,}(?![\w@/:'’-])")
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def keyboard_neighbours() -> dict[str, str]:
    """Letter -> the letters left and right of it on its QWERTY row."""
    neighbours: dict[str, str] = {}
    for row in _KEYBOARD:
        for i, letter in enumerate(row):
            neighbours[letter] = row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return neighbours


_NEIGHBOURS = keyboard_neighbours()


def _same_case(letter: str, like: str) -> str:
    return letter.upper() if like.isupper() else letter


class Misspeller:
    """Seeded typos: each eligible word is misspelt with `word_probability`, and a copy always
    has at least one; a text with no eligible word has no copy (None)."""

    def __init__(self, seed: int, word_probability: float) -> None:
        self.rng, self.word_probability = random.Random(seed), word_probability
        self.edits: tuple[Callable[[str], str], ...] = (
            self.drop,
            self.double,
            self.swap,
            self.neighbour,
        )

    def __call__(self, text: str) -> str | None:
        spans = [m.span() for m in _WORD.finditer(text)]
        if not spans:
            return None
        chosen = [s for s in spans if self.rng.random() < self.word_probability]
        chosen = chosen or [self.rng.choice(spans)]
        out, last = [], 0
        for start, stop in chosen:
            out += [text[last:start], self.rng.choice(self.edits)(text[start:stop])]
            last = stop
        return "".join(out) + text[last:]

    def _inner(self, word: str) -> int:
        """A position after the first letter."""
        return self.rng.randrange(1, len(word))

    def drop(self, word: str) -> str:
        i = self._inner(word)
        return word[:i] + word[i + 1 :]

    def double(self, word: str) -> str:
        lower = word.lower() + " "
        # a letter already doubled would be tripled, which tokenizers that cut repeats undo
        single = [i for i in range(1, len(word)) if lower[i] not in (lower[i - 1], lower[i + 1])]
        if not single:
            return self.drop(word)
        i = self.rng.choice(single)
        return word[: i + 1] + word[i:]

    def swap(self, word: str) -> str:
        i = self.rng.randrange(1, len(word) - 1)
        if word[i].lower() == word[i + 1].lower():  # swapping "oo" changes nothing
            return self.drop(word)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    def neighbour(self, word: str) -> str:
        i = self._inner(word)
        letter = self.rng.choice(_NEIGHBOURS[word[i].lower()])
        return word[:i] + _same_case(letter, word[i]) + word[i + 1 :]
