"""A leaner copy of a bundle's tokenizer for the texts where the steps it leaves out do nothing.

The English tokenizer's normalizer is 54 steps, and each one scans the whole text: on an IMDB
review the normalizer is ~38% of the tokenizer's time, the 26 letter-elongation rules (`a{3,}` ->
`aa`, ...) half of that, Unicode normalisation and the replacements of curly quotes, variation
selectors and skin tones most of the rest. For most texts those steps change nothing:
- an ASCII text stays ASCII through the sequence (when every replacement writes ASCII), so NFKC
  and the replacements of non-ASCII strings never match;
- a text without a letter three times in a row (case-insensitively) has no run for an
  elongation rule to cut, provided no earlier step can make one: every replacement before the
  last elongation rule writes no letters, or writes text that starts and ends with a non-letter
  and has no run itself (" http "), or writes next to letters only where its pattern starts with
  a literal character that the text lacks (`@[a-z0-9_]+` -> "@user" when the text has no "@").

A removed step that would do nothing leaves the text and its alignment as they were, so the lean
tokenizer's ids, tokens and offsets are the full one's (tests/model/test_lean_tokenizer.py checks
this on real texts and on texts made to break each condition). A normalizer of another shape
gets no lean copy, and every text goes through the full tokenizer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tokenizers import Tokenizer

UNICODE_FORMS = frozenset({"NFC", "NFD", "NFKC", "NFKD"})
ALWAYS_SAFE = frozenset({"Lowercase", "Strip"})  # cannot join letters into a run
KNOWN_STEPS = UNICODE_FORMS | ALWAYS_SAFE | {"Replace"}
_ELONGATION = re.compile(r"^([a-z])\{3,\}$")
_RUN_OF_THREE = re.compile(r"([a-z])\1\1", re.IGNORECASE)
# any character three times in a row: on a lower-cased ASCII text this search and a look at
# what repeats costs ~11 us per IMDB review, against ~50 us for the case-insensitive one above
_ANY_RUN_OF_THREE = re.compile(r"(.)\1\1", re.DOTALL)


@dataclass(frozen=True)
class LeanTokenizer:
    """The lean tokenizer and what a text must satisfy to go through it."""

    tokenizer: Tokenizer = field(repr=False)
    absent: str  # characters a text must not contain

    def fits(self, text: str) -> bool:
        if not text.isascii() or any(c in text for c in self.absent):
            return False
        runs = _ANY_RUN_OF_THREE.finditer(text.lower())
        return not any(run.group(1).isalpha() for run in runs)


def _pattern(step: dict) -> tuple[str, str]:
    kind, value = next(iter(step["pattern"].items()))
    return kind, value


def _is_elongation(step: dict) -> bool:
    if step.get("type") != "Replace":
        return False
    kind, value = _pattern(step)
    found = _ELONGATION.match(value) if kind == "Regex" else None
    return found is not None and step["content"] == found.group(1) * 2


def _skippable_on_ascii(step: dict) -> bool:
    if step.get("type") in UNICODE_FORMS:
        return True
    if step.get("type") != "Replace":
        return False
    kind, value = _pattern(step)
    return kind == "String" and not value.isascii()


def _run_safe(step: dict) -> str | None:
    """'' when the step cannot make a run of three letters; the literal character whose absence
    makes it safe; None when neither holds."""
    if step.get("type") in ALWAYS_SAFE or step.get("type") in UNICODE_FORMS:
        return ""
    if step.get("type") != "Replace":
        return None
    content: str = step["content"]
    kind, value = _pattern(step)
    if not content:  # a deletion can join letters ("a-a-a" -> "aaa") unless it never matches
        return "" if kind == "String" and not value.isascii() else None
    if _RUN_OF_THREE.search(content):
        return None
    if not (content[0].isalpha() or content[-1].isalpha()):
        return ""
    first = value[:1]
    if kind == "String":
        return first if first and not first.isalnum() else None
    return first if first and not first.isalnum() and first not in "\\[(.^$|?*+{" else None


def lean_tokenizer(tokenizer: Tokenizer) -> LeanTokenizer | None:
    """The lean copy of `tokenizer`, or None when its normalizer is not a Sequence whose steps
    this module can reason about, or when the copy would leave nothing out."""
    spec = json.loads(tokenizer.to_str())
    normalizer = spec.get("normalizer") or {}
    steps: list[dict] = normalizer.get("normalizers", [])
    if normalizer.get("type") != "Sequence" or not steps:
        return None
    if any(s.get("type") not in KNOWN_STEPS for s in steps):
        return None  # e.g. Prepend could add non-ASCII text
    if any(s.get("type") == "Replace" and not s["content"].isascii() for s in steps):
        return None  # a step could turn an ASCII text into a non-ASCII one
    elongations = [i for i, s in enumerate(steps) if _is_elongation(s)]
    before = steps[: elongations[-1]] if elongations else []
    guards = [_run_safe(s) for s in before if not _is_elongation(s)]
    if None in guards:
        elongations = []  # an earlier step could make a run: keep every elongation rule
    absent = "".join(sorted({g for g in guards if g})) if elongations else ""
    kept = [s for i, s in enumerate(steps) if i not in elongations and not _skippable_on_ascii(s)]
    if len(kept) == len(steps):
        return None
    spec["normalizer"] = {"type": "Sequence", "normalizers": kept}
    lean = Tokenizer.from_str(json.dumps(spec))
    return LeanTokenizer(lean, absent)
