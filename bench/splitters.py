"""Sentence-boundary accuracy of candidate splitters on real review sentences, both languages.

Gold: the data sets' own sentence units. English: SemEval-2014 ABSA test sentences (laptops +
restaurants; the organisers split the reviews into sentences), Korean: KoBEST SentiNeg dev
sentences (shopping reviews, one sentence per row). Consecutive rows are joined with one space
into pseudo-reviews of 2-6 sentences (seeded), so every join is a known boundary. A boundary is
the offset where a sentence starts (after whitespace); a splitter is scored by boundary
precision / recall / F1 and by the share of pseudo-reviews split exactly right.

Caveat, Korean: many SentiNeg rows hold two sentences themselves ("확실히 달라요! 리뷰쓰게
만드네요"), and review sentences often end without punctuation, so precision there counts some
right splits as wrong and recall is bounded by what punctuation shows.

    python -m bench splitters [--data ../shared/data]

Candidates missing from the environment are skipped (blingfire is evaluation-only:
`pip install --target /tmp/splitters blingfire==0.1.8` and PYTHONPATH=/tmp/splitters).
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_DATA, write_json

Splitter = Callable[[str], list[tuple[int, int]]]

SAMPLES = {
    "en": ["semeval14-absa/restaurants_test.tsv.gz", "semeval14-absa/laptops_test.tsv.gz"],
    "ko": ["kobest-sentineg/dev.tsv.gz"],
}


def read_sentences(data: Path, files: list[str]) -> list[str]:
    rows: list[str] = []
    for name in files:
        with gzip.open(data / name, "rt", encoding="utf-8") as f:
            next(f)
            rows += [line.rstrip("\n").split("\t", 1)[1].strip() for line in f]
    return [r for r in rows if r]


def pseudo_reviews(sentences: list[str], seed: int = 0) -> list[tuple[str, list[int]]]:
    """(joined text, gold sentence starts after the first) for groups of 2-6 rows."""
    rng = random.Random(seed)
    docs, i = [], 0
    while i < len(sentences):
        group = sentences[i : i + rng.randint(2, 6)]
        i += len(group)
        starts, pos = [], 0
        for k, s in enumerate(group):
            if k:
                starts.append(pos)
            pos += len(s) + 1
        docs.append((" ".join(group), starts))
    return docs


def starts_of(text: str, spans: list[tuple[int, int]]) -> set[int]:
    """Where each predicted sentence after the first starts, whitespace skipped."""
    found = set()
    for start, _ in spans:
        while start < len(text) and text[start].isspace():
            start += 1
        if 0 < start < len(text):
            found.add(start)
    return found


def score(splitter: Splitter, docs: list[tuple[str, list[int]]]) -> dict[str, Any]:
    tp = fp = fn = exact = 0
    started = time.perf_counter()
    predicted = [starts_of(text, splitter(text)) for text, _ in docs]
    seconds = time.perf_counter() - started
    errors = []
    for (text, gold), found in zip(docs, predicted, strict=True):
        g = set(gold)
        tp, fp, fn = tp + len(g & found), fp + len(found - g), fn + len(g - found)
        exact += g == found
        if g != found and len(errors) < 5:
            errors.append(
                {"text": text[:300], "missed": sorted(g - found), "extra": sorted(found - g)}
            )
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / max(p + r, 1e-9), 4),
        "exact_reviews": round(exact / len(docs), 4),
        "us_per_review": round(seconds / len(docs) * 1e6, 1),
        "examples_wrong": errors,
    }


def regex_splitter(text: str) -> list[tuple[int, int]]:
    cuts = [m.end() for m in re.finditer(r"[.!?…]+[\"')\]]*\s+", text)]
    return list(zip([0, *cuts], [*cuts, len(text)], strict=True))


def candidates(language: str) -> dict[str, Splitter]:
    found: dict[str, Splitter] = {"regex [.!?]+ + space": regex_splitter}
    try:
        import sentencex

        def sx(text: str) -> list[tuple[int, int]]:
            return [
                (b["start_index"], b["end_index"])
                for b in sentencex.get_sentence_boundaries(language, text)
            ]

        found["sentencex"] = sx
    except ImportError:
        pass
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd (en rules)"] = lambda t: [(s.start, s.end) for s in seg.segment(t)]
    except ImportError:
        pass
    try:
        import blingfire

        def bf(text: str) -> list[tuple[int, int]]:
            return [tuple(o) for o in blingfire.text_to_sentences_and_offsets(text)[1]]

        found["blingfire"] = bf
    except ImportError:
        pass
    try:
        from app.core.sentences import split_spans

        found["service (app.core.sentences)"] = lambda t: split_spans(t, language)
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    result: dict[str, Any] = {}
    for language, files in SAMPLES.items():
        sentences = read_sentences(args.data, files)
        docs = pseudo_reviews(sentences)
        gold = sum(len(g) for _, g in docs)
        entry: dict[str, Any] = {
            "source": files,
            "sentences": len(sentences),
            "reviews": len(docs),
            "gold_boundaries": gold,
            "splitters": {},
        }
        for name, splitter in candidates(language).items():
            entry["splitters"][name] = s = score(splitter, docs)
            print(
                f"{language} {name:<30} P {s['precision']:.3f} R {s['recall']:.3f} "
                f"F1 {s['f1']:.3f} exact {s['exact_reviews']:.3f} {s['us_per_review']} us"
            )
        result[language] = entry
    write_json("splitters", result)


if __name__ == "__main__":
    main()
