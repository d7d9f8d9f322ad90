"""Per-sentence analysis: each text and each of its sentences scored in one batcher submission,
and an aggregate per text.

The aggregate (calibration and measurements in docs/sentences.md):
- `label` / `probabilities`: the sentences' probabilities averaged, each weighted by its length
  in characters. The text's own answer (the prediction's `label`) stays the whole-text model's,
  which reads the sentences in context: it is right more often (IMDB: 91.2% vs 83.2%), and the
  two labels differ on 11% of IMDB reviews.
- `mixed`: true when some sentence is strongly positive and another strongly negative:
  `mixed_score` = min(max over sentences of P(positive), max over sentences of P(negative)),
  and mixed = mixed_score >= the threshold. It needs a model with `positive` and `negative`
  labels and at least two sentences; otherwise `mixed` is false and `mixed_score` null.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import PayloadTooLarge
from app.core.sentences import split_spans
from app.core.worker import Scored

Span = tuple[int, int]
# Texts above this many characters in one request are split in a helper thread (~30 us per
# short review; an IMDB review of 5,000 characters ~0.3 ms): the event loop stays free.
OFFLOAD_CHARS = 8192


@dataclass(frozen=True, slots=True)
class SentenceLimits:
    max_per_text: int  # sentences in one text, else 413
    max_per_request: int  # sentences in all texts of one request, else 413


@dataclass(frozen=True, slots=True)
class MixedRule:
    threshold: float  # mixed_score from which a text is mixed


# mixed_score thresholds per bundle language: the best F1 at finding pseudo-reviews whose gold
# sentence labels hold both polarities, on held-out data (SemEval-14 test: P 0.66 R 0.92; KoBEST
# SentiNeg dev + test: P 0.89 R 0.91; docs/sentences.md). Other languages: 0.5.
# SENTIMENT_MIXED_THRESHOLD overrides them for every model.
MIXED_THRESHOLDS = {"en": 0.25, "ko": 0.3}
DEFAULT_MIXED_THRESHOLD = 0.5


def mixed_rule(language: str, override: float | None) -> MixedRule:
    if override is not None:
        return MixedRule(override)
    return MixedRule(MIXED_THRESHOLDS.get(language, DEFAULT_MIXED_THRESHOLD))


def split_texts(texts: Sequence[str], language: str) -> list[list[Span]]:
    """Each text's spans; a text with no sentence (only markup) is one span, the whole text."""
    return [split_spans(text, language) or [(0, len(text))] for text in texts]


def whole(text: str, spans: list[Span]) -> bool:
    """Whether the text is one sentence: its answer is then the whole text's, not scored twice."""
    return len(spans) == 1 and text[spans[0][0] : spans[0][1]] == text.strip()


async def split_checked(
    texts: Sequence[str], language: str, limits: SentenceLimits
) -> list[list[Span]]:
    """Each text's sentence spans, or 413 naming the limit a text or the request passes."""
    if sum(len(t) for t in texts) > OFFLOAD_CHARS:
        spans = await asyncio.to_thread(split_texts, texts, language)
    else:
        spans = split_texts(texts, language)
    check_counts(spans, limits)
    return spans


def check_counts(spans: list[list[Span]], limits: SentenceLimits) -> None:
    for i, found in enumerate(spans):
        if len(found) > limits.max_per_text:
            raise PayloadTooLarge(
                f"texts[{i}] splits into {len(found)} sentences; per-sentence analysis takes at "
                f"most {limits.max_per_text} per text (SENTIMENT_MAX_SENTENCES). Send shorter "
                "texts, or leave `sentences` out"
            )
    total = sum(len(found) for found in spans)
    if total > limits.max_per_request:
        raise PayloadTooLarge(
            f"the texts split into {total} sentences in all; per-sentence analysis takes at most "
            f"{limits.max_per_request} per request (SENTIMENT_MAX_REQUEST_SENTENCES). Send "
            "fewer texts per request"
        )


def sentence_texts(texts: Sequence[str], spans: list[list[Span]]) -> list[str]:
    """Every sentence of every text, flattened in order."""
    return [text[a:b] for text, found in zip(texts, spans, strict=True) for a, b in found]


def regroup(scored: Sequence[Scored], spans: list[list[Span]]) -> list[list[Scored]]:
    """The flat sentence answers back into one list per text."""
    groups, at = [], 0
    for found in spans:
        groups.append(list(scored[at : at + len(found)]))
        at += len(found)
    return groups


def polar(labels: Sequence[str]) -> tuple[int, int] | None:
    """(index of negative, index of positive), or None when the model lacks either."""
    if "negative" in labels and "positive" in labels:
        return labels.index("negative"), labels.index("positive")
    return None


def mixed_score(labels: Sequence[str], probabilities: Sequence[Sequence[float]]) -> float | None:
    """min(max P(positive), max P(negative)) over the sentences; None below two sentences."""
    indices = polar(labels)
    if indices is None or len(probabilities) < 2:
        return None
    neg, pos = indices
    return min(max(p[pos] for p in probabilities), max(p[neg] for p in probabilities))


def weighted_mean(probabilities: Sequence[Sequence[float]], weights: Sequence[int]) -> list[float]:
    total = sum(weights) or 1
    columns = zip(*probabilities, strict=True)
    return [sum(w * p for w, p in zip(weights, col, strict=True)) / total for col in columns]


def aggregate(
    labels: Sequence[str], probabilities: list[list[float]], spans: list[Span], rule: MixedRule
) -> dict[str, Any]:
    """The text's aggregate over its sentences (see the module docstring)."""
    mean = weighted_mean(probabilities, [b - a for a, b in spans])
    best = max(range(len(mean)), key=mean.__getitem__)
    score = mixed_score(labels, probabilities)
    return {
        "label": labels[best],
        "score": mean[best],
        "probabilities": dict(zip(labels, mean, strict=True)),
        "mixed": score is not None and score >= rule.threshold,
        "mixed_score": score,
        "mixed_threshold": rule.threshold,
        "sentences": len(spans),
    }


def sentence_answer(labels: Sequence[str], span: Span, scored: Scored) -> dict[str, Any]:
    probs = scored.probabilities
    best = max(range(len(probs)), key=probs.__getitem__)
    return {
        "start": span[0],
        "end": span[1],
        "label": labels[best],
        "score": probs[best],
        "probabilities": dict(zip(labels, probs, strict=True)),
    }


@dataclass(frozen=True, slots=True)
class SentencePlan:
    """What to score beside the texts: the sentences of every text that holds more than one
    (a one-sentence text's answer is its own)."""

    texts: Sequence[str]
    spans: list[list[Span]]
    several: list[int]  # indices of the texts with more than one sentence

    @classmethod
    def of(cls, texts: Sequence[str], spans: list[list[Span]]) -> SentencePlan:
        several = [i for i, found in enumerate(spans) if not whole(texts[i], found)]
        return cls(texts, spans, several)

    def rows(self) -> list[str]:
        """The sentences to score after the texts, flattened in order."""
        return sentence_texts(
            [self.texts[i] for i in self.several], [self.spans[i] for i in self.several]
        )

    def analyses(
        self, labels: Sequence[str], own: Sequence[Scored], rows: Sequence[Scored], rule: MixedRule
    ) -> list[dict[str, Any]]:
        """Per text, `sentences` and `aggregate` from the texts' and the rows' answers."""
        groups = regroup(rows, [self.spans[i] for i in self.several])
        per_text = dict(zip(self.several, groups, strict=True))
        return [
            analysis(labels, found, per_text.get(i, [own[i]]), rule)
            for i, found in enumerate(self.spans)
        ]


def analysis(
    labels: Sequence[str], spans: list[Span], scored: list[Scored], rule: MixedRule
) -> dict[str, Any]:
    """`sentences` and `aggregate` of one text's answer."""
    return {
        "sentences": [sentence_answer(labels, s, x) for s, x in zip(spans, scored, strict=True)],
        "aggregate": aggregate(labels, [x.probabilities for x in scored], spans, rule),
    }
