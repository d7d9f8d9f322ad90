"""The batch function: queued texts -> token ids -> one ONNX Runtime call -> probabilities.

It runs in the batcher's worker thread. Short texts reach it untokenized: the Rust tokenizer
releases the GIL, so tokenizing them here leaves the event loop free for HTTP, which is what
limits short-text throughput (~45 us per 100-character sentence moved off the loop). Long texts
come already tokenized by the request (on the loop or in a helper thread), so that at saturation
their tokenization overlaps the model instead of queueing in front of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.batcher import Batcher, BatchLimits
from app.registry import ServedModel
from app.runtime import ModelRuntime
from model.text import EncodedText, pad_batch

# Texts up to this many characters are tokenized in the batch worker (when truncating, the
# default: with truncate=false the request must see its token count before it is queued).
WORKER_TOKENIZE_CHARS = 512
# Batch sizes in padded tokens are estimated for untokenized texts at one token per 3
# characters (English BPE averages ~4.3, Korean ~2.5); the estimate only shapes batches.
CHARS_PER_TOKEN = 3

Payload = str | EncodedText  # a text to tokenize here, or one tokenized by the request

# Cost of one ONNX Runtime call, in row-steps of the recurrence, measured with 1 thread on the
# shipped architecture (BiLSTM 128/128): a call ~55 us, a time step ~2.5 us plus ~3.5 us per row
# (flat from 4 rows up; 1 row costs 2x per token). So: CALL_COST + longest x (STEP_COST + rows).
CALL_COST = 16.0
STEP_COST = 0.7


@dataclass(frozen=True, slots=True)
class Scored:
    probabilities: list[float]  # [C]
    encoded: EncodedText
    tokenize_s: float  # time the worker spent tokenizing this text's batch (0 if none)


def estimated_tokens(text: str, max_length: int) -> int:
    return min(max_length, len(text) // CHARS_PER_TOKEN + 1)


def probabilities(runtime: ModelRuntime, rows: list[list[int]]) -> list[list[float]]:
    """Rows of ids -> one list of label probabilities per row."""
    logits = runtime.logits(pad_batch(rows)).astype(np.float64)  # [B, C]
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).tolist()


def encode_pending(model: ServedModel, payloads: list[Payload]) -> list[EncodedText]:
    """Tokenize the untokenized payloads in one `encode_batch` call: one release of the GIL for
    all of them. Encoding one by one would re-take the GIL after each text, and each time wait
    for the event loop to yield it (up to the 5 ms switch interval)."""
    texts = [p for p in payloads if isinstance(p, str)]
    if not texts:
        return list(payloads)  # type: ignore[arg-type]
    fresh = iter(model.encoder.encode_batch(texts))
    return [next(fresh) if isinstance(p, str) else p for p in payloads]


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


def bucketed_probabilities(runtime: ModelRuntime, rows: list[list[int]]) -> list[list[float]]:
    """Probabilities in input order, rows run in length buckets (padding never changes a row's
    result, so this is exact: a text's answer is the same alone or in any batch)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    result: list[list[float]] = [[] for _ in rows]
    for start, end in length_groups([len(rows[i]) for i in order]):
        group = order[start:end]
        for i, probs in zip(group, probabilities(runtime, [rows[i] for i in group]), strict=True):
            result[i] = probs
    return result


def score_batch(model: ServedModel, payloads: list[Payload]) -> list[Scored]:
    started = time.perf_counter()
    encoded = encode_pending(model, payloads)
    tokenize_s = time.perf_counter() - started
    probs = bucketed_probabilities(model.runtime, [e.ids for e in encoded])
    return [Scored(p, e, tokenize_s) for p, e in zip(probs, encoded, strict=True)]


def make_batcher(model: ServedModel, limits: BatchLimits, on_batch: Callable | None) -> Batcher:
    def run(payloads: list[Payload]) -> list[Scored]:
        return score_batch(model, payloads)

    return Batcher(run, limits, name=model.name, on_batch=on_batch)
