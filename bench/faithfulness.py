"""The deletion test of /explain's word contributions, on real texts (no I/O here).

For each text: delete from the text itself (not from its tokens) the word with the largest
contribution toward the positive label and ask /predict again: P(positive) should fall; delete
the word with the most negative contribution: it should rise. Since occlusion measures exactly
one word's deletion, this checks the word spans and the whole public path (re-tokenising the
edited text) more than the method; the stronger check deletes the top k words and compares
with k random words of the same text (the drop should be larger).
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSITIVE = "positive"


@dataclass(frozen=True)
class Case:
    kind: str  # "top_positive", "top_negative", "top_k" or "random_k"
    index: int  # which text
    text: str  # the text with words deleted


def target_label(labels: list[str]) -> str:
    """The label whose probability the test follows: "positive", else the last one."""
    return POSITIVE if POSITIVE in labels else labels[-1]


def without(text: str, words: list[dict[str, Any]]) -> str:
    """`text` with each word's span deleted, and one space next to it (before it, else after
    it), so that no stray space token appears where the word was."""
    kept, at = [], 0
    for word in sorted(words, key=lambda w: w["start"]):
        start, end = word["start"], word["end"]
        if start > at and text[start - 1] == " ":
            start -= 1
        elif end < len(text) and text[end] == " ":
            end += 1
        kept.append(text[at:start])
        at = end
    return "".join(kept) + text[at:]


def single_cases(index: int, text: str, explained: dict[str, Any], label: str) -> list[Case]:
    """Deletion of the most positive and the most negative word (where there is one)."""
    words = explained["words"]
    value = [w["contributions"][label] for w in words]
    cases = []
    if words and max(value) > 0:
        cases.append(Case("top_positive", index, without(text, [words[value.index(max(value))]])))
    if words and min(value) < 0:
        cases.append(Case("top_negative", index, without(text, [words[value.index(min(value))]])))
    return cases


def top_k_cases(
    index: int, text: str, explained: dict[str, Any], label: str, k: int, rng: random.Random
) -> list[Case]:
    """The k most positive words deleted, and k words drawn at random, for texts of > 2k words."""
    words = explained["words"]
    if len(words) <= 2 * k:
        return []
    ranked = sorted(words, key=lambda w: w["contributions"][label], reverse=True)
    return [
        Case("top_k", index, without(text, ranked[:k])),
        Case("random_k", index, without(text, rng.sample(words, k))),
    ]


def passed(case: Case, before: float, after: float) -> bool:
    """before/after: P(label) of the whole text and of the edited one."""
    if case.kind == "top_negative":
        return after > before
    return after < before


def summary(cases: list[Case], before: list[float], after: list[float]) -> dict[str, Any]:
    """Pass rates of the single deletions, and the top-k vs random-k comparison."""
    result: dict[str, Any] = {}
    for kind in ("top_positive", "top_negative"):
        pairs = [(c, a) for c, a in zip(cases, after, strict=True) if c.kind == kind]
        outcomes = [passed(c, before[c.index], a) for c, a in pairs]
        result[kind] = {"n": len(outcomes), "pass_rate": sum(outcomes) / max(1, len(outcomes))}
    drops: dict[str, dict[int, float]] = {"top_k": {}, "random_k": {}}
    for case, a in zip(cases, after, strict=True):
        if case.kind in drops:
            drops[case.kind][case.index] = before[case.index] - a
    both = sorted(drops["top_k"].keys() & drops["random_k"].keys())
    wins = [drops["top_k"][i] > drops["random_k"][i] for i in both]
    result["top_k_beats_random"] = {"n": len(both), "pass_rate": sum(wins) / max(1, len(wins))}
    return result


def read_texts(path: Path, limit: int, max_chars: int) -> list[str]:
    """The first `limit` texts of a `label<TAB>text` file that are at most `max_chars` long."""
    texts: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        next(handle)  # header
        for line in handle:
            text = line.rstrip("\n").split("\t", 1)[-1]
            if 0 < len(text) <= max_chars and text.strip():
                texts.append(text)
                if len(texts) == limit:
                    break
    return texts


def real_texts(data_dir: Path, per_set: int, review_chars: int = 1200) -> list[str]:
    """A fixed sample of IMDB test reviews (short enough not to be truncated: 1,200 characters
    are ~300 tokens) and of TweetEval test tweets."""
    imdb = read_texts(data_dir / "imdb" / "test.tsv.gz", 25_000, review_chars)
    rng = random.Random(0)
    reviews = rng.sample(imdb, per_set)  # the file is sorted by label: sample across it
    tweets = rng.sample(read_texts(data_dir / "tweeteval" / "test.tsv.gz", 12_000, 400), per_set)
    return reviews + tweets
