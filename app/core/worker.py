"""One served model: texts in, probabilities out. The per-model worker owns the bundle's
tokenizer, its graphs (`Scorer`) and its batcher, created together, so it is never half-built.

The request side tokenizes (or not, see below) and queues one `Job` per text; the batch function
runs in a batcher thread, tokenizes what is left, scores the batch and gives one `Scored` per text.
With truncation (the default), texts reach the batch function untokenized and it tokenizes the
whole batch in one `encode_batch` call: the Rust tokenizer releases the GIL there, so the event
loop stays free for HTTP (~45 us per 100-character sentence moved off the loop; ~1 ms per IMDB
review, which on the loop was half the busy CPU under load, see docs/benchmarks.md "Where the
CPU goes"). With two batch threads one tokenizes while the other runs the model. With
truncate=false the request tokenizes first: it must see the token count before it is queued.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.core.batcher import Batcher, BatchLimits, BatchStats
from app.core.context import StageTimes
from app.core.errors import PayloadTooLarge
from app.core.scoring import Scorer, Scores
from app.core.session import RUNS
from app.core.waiting import Disconnected, gather_entries
from model import Bundle
from model.cascade import CascadeRule
from model.text import Direction, EncodedText, TextEncoder

# Texts up to this many characters are tokenized in the batch worker (when truncating, the
# default: with truncate=false the request must see its token count before it is queued). Was
# 512; every text the service accepts (max_text_chars 20,000) fits under this. The environment
# variable is a measuring knob (bench load --variant), read once at import.
WORKER_TOKENIZE_CHARS = int(os.environ.get("SENTIMENT_WORKER_TOKENIZE_CHARS", "1000000"))
# Characters per request above which request-side tokenization leaves the event loop: a review
# costs ~0.3 us per character to tokenize, so 4096 characters would hold the loop ~1 ms.
OFFLOAD_CHARS = 4096
# Batch sizes in padded tokens are estimated for untokenized texts at one token per 3
# characters (English BPE averages ~4.3, Korean ~2.5); the estimate only shapes batches.
CHARS_PER_TOKEN = 3
# Drift metrics callback: answered texts' probabilities [N, C], paths [N] and token counts [N]
Predictions = Callable[[list[list[float]], list[str], list[int]], None]


@dataclass(frozen=True, slots=True)
class Job:
    """One queued text: raw (the batch worker tokenizes it) or already tokenized."""

    text: str | EncodedText
    full_model: bool  # the request asked for the full graph, whatever the cascade says
    counted: bool = True  # counts in the drift metrics (/explain's variants do not)
    direction: Direction | None = None  # how a raw text is cut (None: the bundle's rule)


@dataclass(frozen=True, slots=True)
class Scored:
    """One text's answer, with the times of the batch it ran in."""

    probabilities: list[float]  # [C]
    encoded: EncodedText
    path: str  # "fast" or "full": the graph that answered
    tokenize_s: float  # the batch worker's tokenization of this batch (0 if none)
    inference_s: float  # ONNX Runtime time of this batch
    logits: list[float] | None = None  # [C], of the graph that answered


@dataclass(slots=True)
class Classified:
    """A request's answer, in input order."""

    scored: list[Scored]
    times: StageTimes


def prediction(labels: list[str], scored: Scored) -> dict[str, Any]:
    """One text's answer as /predict (and /explain) shows it."""
    probs = scored.probabilities
    best = max(range(len(probs)), key=probs.__getitem__)
    return {
        "label": labels[best],
        "score": probs[best],
        "probabilities": dict(zip(labels, probs, strict=True)),
        "tokens": len(scored.encoded),
        "truncated": scored.encoded.truncated,
        "path": scored.path,
    }


def ranked(labels: list[str], scores: list[float], top_k: int) -> list[dict[str, Any]]:
    """The `top_k` best labels with their scores, best first (ties keep label order)."""
    order = sorted(range(len(labels)), key=lambda i: -scores[i])[:top_k]
    return [{"label": labels[i], "score": scores[i]} for i in order]


def detailed_prediction(
    labels: list[str], scored: Scored, top_k: int | None, raw_scores: bool
) -> dict[str, Any]:
    """`prediction` plus what the caller asked for: `logits` and the ranked `top` labels."""
    answer = prediction(labels, scored)
    logits = scored.logits if scored.logits is not None else []
    if raw_scores:
        answer["logits"] = dict(zip(labels, logits, strict=True))
    if top_k is not None:
        answer["top"] = ranked(labels, logits if raw_scores else scored.probabilities, top_k)
    return answer


def estimated_tokens(text: str, max_length: int) -> int:
    return min(max_length, len(text) // CHARS_PER_TOKEN + 1)


class ModelWorker:
    """One served model: its tokenizer, its graphs and its batcher (started by `start`)."""

    def __init__(
        self,
        bundle: Bundle,
        encoder: TextEncoder,
        scorer: Scorer,
        limits: BatchLimits,
        on_batch: Callable[[BatchStats], None] | None = None,
        on_scores: Callable[[Scores], None] | None = None,
        on_predictions: Predictions | None = None,
    ) -> None:
        self.bundle = bundle
        self.encoder = encoder
        self.scorer = scorer
        self._on_scores = on_scores
        self._on_predictions = on_predictions
        self.batcher: Batcher[Job, Scored] = Batcher(
            self.score_batch, limits, name=bundle.name, on_batch=on_batch
        )
        self.in_flight = 0  # requests using it (see in_use): a replaced worker stops at 0

    @property
    def name(self) -> str:
        return self.bundle.manifest.name

    @property
    def labels(self) -> list[str]:
        return self.bundle.manifest.labels

    @property
    def max_length(self) -> int:
        return self.bundle.manifest.max_length

    @property
    def cascade(self) -> bool:
        return self.scorer.fast is not None

    @property
    def info_labels(self) -> tuple[str, str, str, str]:
        """name, version, variant and execution provider: `sentiment_model_info`'s labels."""
        full = self.scorer.full
        return (self.name, self.bundle.manifest.version, full.variant, full.provider)

    def start(self) -> None:
        self.batcher.start()

    async def stop(self, timeout_s: float) -> None:
        await self.batcher.stop(timeout_s)

    # --- request side (event loop) ---

    async def tokenize(
        self, texts: Sequence[str], direction: Direction | None = None
    ) -> list[EncodedText]:
        """Short inputs are tokenized on the event loop, one by one (~6 us per short text; the
        Rust `encode_batch` costs more for them: ~450 vs ~210 us for 32). Long inputs go to a
        thread and `encode_batch`, so that a long review does not stall the loop."""
        if sum(len(t) for t in texts) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.encoder.encode_batch, texts, direction)
        return [self.encoder.encode(text, direction) for text in texts]

    async def encode(
        self, texts: Sequence[str], truncate: bool, direction: Direction | None = None
    ) -> list[EncodedText]:
        """Tokenize; with truncate=False a text over the model's max_length is refused (413)."""
        encoded = await self.tokenize(texts, direction)
        if not truncate:
            for i, item in enumerate(encoded):
                if item.truncated:
                    raise PayloadTooLarge(
                        f"texts[{i}] has {item.full_length} tokens; model {self.name} reads at "
                        f'most {self.max_length}. Shorten it, or send "truncate": true to cut it'
                    )
        return encoded

    async def _jobs(
        self, texts: Sequence[str], truncate: bool, full_model: bool, direction: Direction | None
    ) -> tuple[list[Job], list[int]]:
        """What to queue, and each item's size in tokens: short texts go as they are (the batch
        worker tokenizes them); the others are tokenized here first."""
        if truncate and all(len(t) <= WORKER_TOKENIZE_CHARS for t in texts):
            sizes = [estimated_tokens(t, self.max_length) for t in texts]
            return [Job(t, full_model, direction=direction) for t in texts], sizes
        encoded = await self.encode(texts, truncate, direction)
        return [Job(e, full_model) for e in encoded], [len(e) for e in encoded]

    async def classify(
        self,
        texts: Sequence[str],
        truncate: bool,
        deadline: float,
        full_model: bool = False,
        disconnected: Disconnected | None = None,
        direction: Direction | None = None,
    ) -> Classified:
        """Queue each text in the batcher under `deadline`; answers in input order. `direction`
        picks the tokens a text over max_length keeps (None: the bundle's head and tail)."""
        with self.in_use():
            return await self._classify(
                texts, truncate, deadline, full_model, disconnected, direction
            )

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Count a request that uses this worker: a replaced worker stops once none does."""
        self.in_flight += 1
        try:
            with RUNS.request():
                yield
        finally:
            self.in_flight -= 1

    async def _classify(
        self,
        texts: Sequence[str],
        truncate: bool,
        deadline: float,
        full_model: bool,
        disconnected: Disconnected | None,
        direction: Direction | None,
    ) -> Classified:
        started = time.perf_counter()
        jobs, sizes = await self._jobs(texts, truncate, full_model, direction)
        tokenize_s = time.perf_counter() - started
        batcher = self.batcher
        # Watching for a client that leaves costs a task per request; it only pays off when the
        # texts must wait behind at least one full batch, so at low load it is skipped.
        watch = disconnected if batcher.depth >= batcher.limits.max_batch_size else None
        entries = batcher.submit(jobs, sizes, deadline)
        scored: list[Scored] = await gather_entries(entries, deadline, watch)
        times = StageTimes(
            tokenization=(tokenize_s + max(s.tokenize_s for s in scored)) * 1e3,
            queue=max(e.started - e.enqueued for e in entries) * 1e3,
            inference=max(s.inference_s for s in scored) * 1e3,
        )
        return Classified(scored, times)

    # --- batch side (a batcher thread) ---

    def _encode_pending(self, jobs: list[Job]) -> list[EncodedText]:
        """Tokenize the raw texts in one `encode_batch` call: one release of the GIL for all of
        them (a long text as its head and tail windows: the same ids, `model.windows`).
        Encoding one by one would re-take the GIL after each text, and each time wait for the
        event loop to yield it (up to the 5 ms switch interval)."""
        raw = [j for j in jobs if isinstance(j.text, str)]
        if not raw:
            return [j.text for j in jobs]  # type: ignore[misc]
        texts: list[str] = [j.text for j in raw]  # type: ignore[misc]
        fresh = iter(self.encoder.scoring_encodings(texts, [j.direction for j in raw]))
        return [next(fresh) if isinstance(j.text, str) else j.text for j in jobs]

    def score_batch(self, jobs: list[Job]) -> list[Scored]:
        """The batch function: jobs -> one `Scored` per job, same order."""
        started = time.perf_counter()
        with RUNS.batch(len(jobs)):
            encoded = self._encode_pending(jobs)
            tokenize_s = time.perf_counter() - started
            scores = self.scorer.score([e.ids for e in encoded], [j.full_model for j in jobs])
        if self._on_scores is not None:
            self._on_scores(scores)
        if self._on_predictions is not None:
            self._observe_predictions(self._on_predictions, jobs, encoded, scores)
        logits = scores.logits or [None] * len(jobs)
        return [
            Scored(p, e, path, tokenize_s, scores.inference_s, z)
            for p, e, path, z in zip(
                scores.probabilities, encoded, scores.paths, logits, strict=True
            )
        ]

    @staticmethod
    def _observe_predictions(
        observe: Predictions, jobs: list[Job], encoded: list[EncodedText], scores: Scores
    ) -> None:
        """Hand the counted rows' probabilities, paths and token counts to the drift metrics."""
        lengths = [len(e) for e in encoded]
        if all(j.counted for j in jobs):
            observe(scores.probabilities, scores.paths, lengths)
            return
        rows = [i for i, j in enumerate(jobs) if j.counted]
        if rows:
            probabilities, paths = scores.probabilities, scores.paths
            observe([probabilities[i] for i in rows], [paths[i] for i in rows],
                    [lengths[i] for i in rows])  # fmt: skip

    def _cascade_info(self) -> dict[str, Any] | None:
        cascade = self.bundle.manifest.cascade
        if not cascade:
            return None
        rule = CascadeRule.from_manifest(cascade)
        return {"active": self.cascade, "threshold": rule.threshold, "min_tokens": rule.min_tokens}

    def describe(self) -> dict[str, Any]:
        manifest = self.bundle.manifest
        full = self.scorer.full
        return {
            "name": manifest.name,
            "version": manifest.version,
            "language": manifest.language,
            "labels": manifest.labels,
            "max_length": manifest.max_length,
            "metrics": manifest.variants[full.variant].metrics,
            "runtime": {**full.describe(), "batch_workers": self.batcher.limits.workers},
            "cascade": self._cascade_info(),
            "manifest": manifest.to_json(),
        }
