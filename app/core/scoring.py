"""Token ids to label probabilities: length buckets over ONNX Runtime calls, and the cascade.

Pure computation on sessions (no queue, no text): `Scorer.score` takes the rows of one batch and
answers each row from the bundle's fast graph when that graph is confident enough, else from the
full graph. Every graph is padding-invariant (checked at export), and a row's path depends on
that row alone, so a text's answer never depends on its batch neighbours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app.core.session import OnnxSession
from model.cascade import FAST, FULL, CascadeRule
from model.runtime import softmax
from model.text import pad_batch

# Cost of one ONNX Runtime call, in row-steps of the recurrence, measured with 1 thread on the
# shipped architecture (BiLSTM 128/128): a call costs ~55 us, a time step ~2.5 us plus ~3.5 us
# per row (flat from 4 rows up; 1 row costs 2x per token). Divided by 3.5 us:
# CALL_COST = 55 / 3.5 ~ 16 and STEP_COST = 2.5 / 3.5 ~ 0.7, so one call over a group costs
# CALL_COST + longest x (STEP_COST + rows) row-steps.
CALL_COST = 16.0
STEP_COST = 0.7


@dataclass(frozen=True, slots=True)
class Scores:
    """One batch's answer: probabilities [N, C] in row order, the graph that answered each row,
    the seconds spent in ONNX Runtime, and the logits [N, C] of the graph that answered each row
    (what `raw_scores` shows; None where a caller built Scores without them)."""

    probabilities: list[list[float]]
    paths: list[str]
    inference_s: float
    logits: list[list[float]] | None = None


def length_groups(lengths: list[int]) -> list[tuple[int, int]]:
    """Split rows sorted by length into contiguous groups [start, end) that minimise the
    modelled cost of running each group as one padded call (padding rows to the group's
    longest is the waste; each call has a fixed cost). Exact dynamic programme, O(n^2)."""
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: cost of rows [0, j)
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = lengths[end - 1]
        for start in range(end):
            cost = best[start] + CALL_COST + longest * (STEP_COST + end - start)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], n
    while end > 0:
        groups.append((cut[end], end))
        end = cut[end]
    return groups[::-1]


def bucketed_logits(session: OnnxSession, rows: list[list[int]]) -> np.ndarray:
    """Logits [N, C] (float64) in row order, rows run in length buckets. Exact: padding never
    changes a row's result, so a text's answer is the same alone or in any batch."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    result: np.ndarray | None = None
    for start, end in length_groups([len(rows[i]) for i in order]):
        group = order[start:end]
        logits = session.logits(pad_batch([rows[i] for i in group]))
        if result is None:
            result = np.empty((len(rows), logits.shape[1]))
        result[group] = logits
    assert result is not None, "no rows to score"
    return result


def bucketed_probabilities(session: OnnxSession, rows: list[list[int]]) -> np.ndarray:
    """Probabilities [N, C] (float64) in row order: the softmax of `bucketed_logits`, in
    float64 since in float32 a logit gap above ~17 rounds the top probability to 1.0."""
    return softmax(bucketed_logits(session, rows))


@dataclass(frozen=True)
class Scorer:
    """The graphs of one served bundle: the full model, and the cascade's fast graph if used.

    A row takes the fast path when the manifest's rule says so (`model.cascade`: at least
    `min_tokens` tokens, top fast-graph probability at or above `threshold`) and its request did
    not ask for the full model. Shorter rows never run the fast graph: on them it almost never
    answers, so trying would only cost time."""

    full: OnnxSession
    fast: OnnxSession | None = None
    rule: CascadeRule = field(default_factory=CascadeRule)  # default: no row takes the fast path

    def score(self, rows: list[list[int]], full_only: list[bool]) -> Scores:
        started = time.perf_counter()
        candidates = self._fast_candidates(rows, full_only)
        if not candidates:
            logits = bucketed_logits(self.full, rows)
            paths = [FULL] * len(rows)
            return self._scores(logits, paths, time.perf_counter() - started)
        fast = bucketed_logits(self.fast, [rows[i] for i in candidates])  # [K, C]
        confident = np.zeros(len(rows), dtype=bool)
        confident[candidates] = self.rule.confident(softmax(fast))
        logits = np.empty((len(rows), fast.shape[1]))
        logits[candidates] = fast
        rest = np.flatnonzero(~confident).tolist()
        if rest:
            logits[rest] = bucketed_logits(self.full, [rows[i] for i in rest])
        paths = [FAST if c else FULL for c in confident.tolist()]
        return self._scores(logits, paths, time.perf_counter() - started)

    @staticmethod
    def _scores(logits: np.ndarray, paths: list[str], seconds: float) -> Scores:
        return Scores(softmax(logits).tolist(), paths, seconds, logits.tolist())

    def _fast_candidates(self, rows: list[list[int]], full_only: list[bool]) -> list[int]:
        """Rows that try the fast graph: long enough, and not asked to run the full model."""
        if self.fast is None:
            return []
        tries = self.rule.tries([len(row) for row in rows])
        return [i for i in np.flatnonzero(tries).tolist() if not full_only[i]]
