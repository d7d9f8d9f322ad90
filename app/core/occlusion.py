"""Per-word explanations by occlusion: each word removed in turn, every variant scored at once.

A word is a span of the original text made of consecutive model tokens (from the tokenizer's
offsets): a new word starts after a gap between tokens, and where letters or digits meet other
characters, so "great!!!" gives "great" and "!!!", and the bytes of one emoji stay together.
A word's contribution toward a label is the change in that label's log-odds, log(p / (1 - p)),
when the word's tokens are deleted: log-odds(label | text) - log-odds(label | text without it),
for every label of the model (any number of them). Log-odds rather than probabilities, because
a confident model's probabilities saturate: at P = 0.99999 deleting the word that decided the
answer moves P by 1e-5 but the log-odds by several units. Signs are those of the probability
change, so "positive = the word supports the label" holds either way.

The text and its N variants go to the model's batcher in one submission (`score_rows`, the one
call site), so they are batched, length-sorted and run like /predict's texts, and the answer for
the whole text is the one /predict gives. Cost: N + 1 rows for N words, each as long as the
text, so quadratic in the length: ~2x a /predict for a tweet, ~34x for a 177-word review
(docs/benchmarks.md). Occlusion is exact for what
it claims, the effect of deleting one word; it misses interactions (two words that each make
the other redundant both score low).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.context import StageTimes
from app.core.errors import InvalidInput, PayloadTooLarge
from app.core.sentence_scoring import MixedRule, Span, analysis, sentence_texts, whole
from app.core.waiting import gather_entries
from app.core.worker import Job, ModelWorker, Scored, prediction
from model.text import UNK_ID, EncodedText

METHOD = "occlusion"
TINY = 1e-300  # floor under probabilities before a log (a probability can underflow to 0)


@dataclass(frozen=True, slots=True)
class ExplainLimits:
    max_texts: int  # texts per /explain request
    max_tokens: int  # model tokens per text (after truncation)


@dataclass(frozen=True, slots=True)
class Word:
    start: int  # characters of the original text, [start, end)
    end: int
    first: int  # model tokens of the word, [first, last)
    last: int


def _wordy(char: str) -> bool:
    return char.isalnum() or char in "'’_"


def _visible_start(text: str, start: int, end: int) -> int:
    """First non-space character of a token's span (Metaspace tokens include the space)."""
    while start < end and text[start].isspace():
        start += 1
    return start


def _continues(text: str, word: Word, start: int) -> bool:
    """Whether a token whose visible part starts at `start` belongs to `word`."""
    if start < word.end:
        return True  # overlapping spans: the bytes of one character
    return start == word.end and _wordy(text[start - 1]) == _wordy(text[start])


def words_of(text: str, offsets: Sequence[tuple[int, int]]) -> list[Word]:
    """Group consecutive tokens into words by their character offsets in `text`; a token that
    is only space joins the word after it."""
    words: list[Word] = []
    first = 0  # first token not yet in a word
    for i, (start, end) in enumerate(offsets):
        visible = _visible_start(text, start, end)
        if visible == end:
            continue  # only space: taken by the next word
        if words and first == i and _continues(text, words[-1], visible):
            prev = words[-1]
            words[-1] = Word(prev.start, max(prev.end, end), prev.first, i + 1)
        else:
            words.append(Word(visible, end, first, i + 1))
        first = i + 1
    return words


def occluded_rows(ids: list[int], words: list[Word]) -> list[list[int]]:
    """One row per word: the ids without that word's tokens ([UNK] if nothing is left)."""
    return [(ids[: w.first] + ids[w.last :]) or [UNK_ID] for w in words]


def as_payload(ids: list[int]) -> EncodedText:
    return EncodedText(ids, len(ids), None, len(ids))


async def score_rows(
    model: ModelWorker, rows: list[list[int]], deadline: float
) -> tuple[list[Scored], StageTimes]:
    """One `Scored` per token-id row, through the model's batcher in one submission, all on the
    full model: an explanation compares variants of one text, so they must take the same graph.
    The one place where /explain meets the scoring machinery."""
    # not counted in the drift metrics: occlusion variants are not traffic
    jobs = [Job(as_payload(row), full_model=True, counted=False) for row in rows]
    entries = model.batcher.submit(jobs, [len(row) for row in rows], deadline)
    scored: list[Scored] = await gather_entries(entries, deadline)
    times = StageTimes(
        queue=max(e.started - e.enqueued for e in entries) * 1e3,
        inference=max(s.inference_s for s in scored) * 1e3,
    )
    return scored, times


def log_odds(probs: list[float]) -> list[float]:
    """Per label, log(p / (1 - p)); 1 - p is summed from the other labels' probabilities, so
    it stays exact when p rounds to 1."""
    rest = [sum(probs[:c] + probs[c + 1 :]) for c in range(len(probs))]
    return [
        math.log(max(p, TINY)) - math.log(max(r, TINY)) for p, r in zip(probs, rest, strict=True)
    ]


def contributions(
    labels: list[str], whole: list[float], without: list[list[float]]
) -> list[dict[str, float]]:
    """Per word, log-odds(label | text) - log-odds(label | text without the word)."""
    base = log_odds(whole)
    return [
        {lab: base[c] - v for c, (lab, v) in enumerate(zip(labels, log_odds(row), strict=True))}
        for row in without
    ]


def explanation(
    model: ModelWorker, text: str, words: list[Word], scored: list[Scored]
) -> dict[str, Any]:
    """The prediction for the whole text (row 0) and each word's span and contributions."""
    probs = [s.probabilities for s in scored]
    per_word = contributions(model.labels, probs[0], probs[1:])
    spans = [
        {"text": text[w.start : w.end], "start": w.start, "end": w.end, "contributions": c}
        for w, c in zip(words, per_word, strict=True)
    ]
    return {**prediction(model.labels, scored[0]), "method": METHOD, "words": spans}


def check_count(texts: Sequence[str], limits: ExplainLimits) -> None:
    if len(texts) > limits.max_texts:
        raise InvalidInput(
            f"{len(texts)} texts in one /explain request; send at most {limits.max_texts}"
        )


def check_tokens(items: list[EncodedText], limits: ExplainLimits) -> None:
    for i, item in enumerate(items):
        if len(item) > limits.max_tokens:
            raise PayloadTooLarge(
                f"texts[{i}] has {len(item)} tokens; /explain reads at most {limits.max_tokens} "
                "per text (its cost grows with the square of the length); shorten it"
            )


def _add(total: StageTimes, part: StageTimes) -> None:
    total.queue += part.queue
    total.inference += part.inference


@dataclass(frozen=True, slots=True)
class SentencesAsked:
    """Per-sentence analysis asked along with the explanation: each text's sentence spans."""

    spans: list[list[Span]]
    rule: MixedRule


async def sentence_rows(
    model: ModelWorker, texts: Sequence[str], asked: SentencesAsked | None
) -> list[list[list[int]]]:
    """Per text, the token ids of each sentence ([] for a one-sentence text: its answer is the
    text's own)."""
    if asked is None:
        return [[] for _ in texts]
    several = [not whole(t, s) for t, s in zip(texts, asked.spans, strict=True)]
    spans = [s if many else [] for s, many in zip(asked.spans, several, strict=True)]
    encoded = iter(await model.encode(sentence_texts(texts, spans), truncate=True))
    return [[next(encoded).ids for _ in found] for found in spans]


async def explain_texts(
    model: ModelWorker,
    texts: Sequence[str],
    truncate: bool,
    deadline: float,
    limits: ExplainLimits,
    sentences: SentencesAsked | None = None,
) -> tuple[list[dict[str, Any]], StageTimes]:
    """One explanation per text, in order; texts are scored one after another, each in one
    submission (its variants and, when asked, its sentences), so one request never queues more
    than one text's rows at a time."""
    check_count(texts, limits)
    with model.in_use():  # a model replaced meanwhile finishes this request before it stops
        started = time.perf_counter()
        items = await model.encode(texts, truncate)
        extra = await sentence_rows(model, texts, sentences)
        times = StageTimes(tokenization=(time.perf_counter() - started) * 1e3)
        check_tokens(items, limits)
        answers = []
        for i, (text, item) in enumerate(zip(texts, items, strict=True)):
            words = words_of(text, item.offsets) if item.encoding is not None else []
            rows = [item.ids, *occluded_rows(item.ids, words)]
            scored, part = await score_rows(model, [*rows, *extra[i]], deadline)
            _add(times, part)
            answers.append(explanation(model, text, words, scored[: len(rows)]))
            if sentences is not None:
                own = scored[len(rows) :] or scored[:1]
                answers[-1].update(analysis(model.labels, sentences.spans[i], own, sentences.rule))
        return answers, times
