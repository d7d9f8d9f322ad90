"""Texts to answers: check limits, tokenize, queue in the model's batcher, turn logits into
probabilities. Routes call this; it knows nothing of HTTP except the optional disconnect probe."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.batcher import Entry
from app.errors import DeadlineExceeded, InvalidInput, PayloadTooLarge, ServiceError
from app.registry import ServedModel
from app.scoring import (
    WORKER_TOKENIZE_CHARS,
    Payload,
    Scored,
    estimated_tokens,
)
from model.text import EncodedText

Disconnected = Callable[[], Awaitable[Any]]
OFFLOAD_CHARS = 4096  # characters per request above which tokenization leaves the event loop


class ClientGone(ServiceError):
    """The client closed the connection before its answer was ready (nobody reads this)."""


@dataclass(frozen=True, slots=True)
class TextLimits:
    max_texts: int
    max_text_chars: int


@dataclass(slots=True)
class StageTimes:
    """Milliseconds per stage, returned as `x-*-time` headers and logged."""

    tokenization: float = 0.0
    queue: float = 0.0
    inference: float = 0.0

    def headers(self) -> dict[str, str]:
        return {
            "x-tokenization-time": f"{self.tokenization:.3f}",
            "x-queue-time": f"{self.queue:.3f}",
            "x-inference-time": f"{self.inference:.3f}",
        }


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_texts(texts: Sequence[str], limits: TextLimits) -> None:
    if len(texts) > limits.max_texts:
        raise InvalidInput(
            f"{len(texts)} texts in one request; send at most {limits.max_texts} per request"
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_text_chars:
            raise PayloadTooLarge(
                f"texts[{i}] has {len(text)} characters; the limit is {limits.max_text_chars}"
            )
        if not text.strip():
            raise InvalidInput(f"texts[{i}] is empty or only whitespace; send some text")
        if not text.isascii() and _SURROGATE.search(text):
            # JSON allows escapes like "\ud800" that decode to half a UTF-16 pair: not Unicode
            raise InvalidInput(
                f"texts[{i}] holds a lone UTF-16 surrogate escape (\\ud800-\\udfff); "
                "send valid Unicode"
            )


async def tokenize_texts(model: ServedModel, texts: Sequence[str]) -> list[EncodedText]:
    """Short inputs are tokenized on the event loop, one by one (~6 us per short text; the Rust
    `encode_batch` costs more for them: ~450 vs ~210 us for 32). Long inputs go to a thread and
    `encode_batch`, since a review costs ~0.3 us per character and would stall the loop."""
    if sum(len(t) for t in texts) > OFFLOAD_CHARS:
        return await asyncio.to_thread(model.encoder.encode_batch, texts)
    return [model.encoder.encode(text) for text in texts]


async def encode(model: ServedModel, texts: Sequence[str], truncate: bool) -> list[EncodedText]:
    """Tokenize; with truncate=False a text over the model's max_length is refused (413)."""
    encoded = await tokenize_texts(model, texts)
    if not truncate:
        for i, item in enumerate(encoded):
            if item.truncated:
                raise PayloadTooLarge(
                    f"texts[{i}] has {item.full_length} tokens; model {model.name} reads at most "
                    f'{model.max_length}. Shorten it, or send "truncate": true to cut it'
                )
    return encoded


async def wait_for_client_gone(receive: Callable[[], Awaitable[dict]]) -> None:
    """Returns when the client disconnects (the body has been read; only disconnect remains)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def gather_entries(
    entries: list[Entry], deadline: float, disconnected: Disconnected | None = None
) -> list[Any]:
    """Results of every entry in order; 504 at the deadline; cancels all if the client goes."""
    futures = [e.future for e in entries]
    waiter = futures[0] if len(futures) == 1 else asyncio.gather(*futures)
    if disconnected is None:
        return await _await_until(waiter, futures, deadline)
    watch = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait(
            {waiter, watch},
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        watch.cancel()
    if waiter in done:
        return await _await_until(waiter, futures, deadline)  # done: returns or raises at once
    for future in futures:
        future.cancel()  # the batcher skips cancelled entries
    if watch in done:
        raise ClientGone("client closed the connection")
    raise DeadlineExceeded("the request deadline passed before the model answered; retry later")


async def _await_until(
    waiter: asyncio.Future, futures: list[asyncio.Future], deadline: float
) -> list:
    """The cheap path (no extra task): a timeout around the future itself."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            result = await waiter
    except TimeoutError:
        raise DeadlineExceeded(
            "the request deadline passed before the model answered; retry later"
        ) from None
    except BaseException:
        for future in futures:
            future.cancel()  # one text failed or the request was cancelled: drop the rest
        raise
    return [result] if len(futures) == 1 else result


def stage_times(entries: list[Entry], tokenize_s: float, worker_tokenize_s: float) -> StageTimes:
    """Milliseconds; the batch worker's tokenization counts as tokenization, not inference."""
    return StageTimes(
        tokenization=(tokenize_s + worker_tokenize_s) * 1e3,
        queue=max(e.started - e.enqueued for e in entries) * 1e3,
        inference=max(0.0, max(e.finished - e.started for e in entries) - worker_tokenize_s) * 1e3,
    )


def tokenized(item: EncodedText, truncate: bool) -> dict[str, Any]:
    """The tokens the model reads; with truncate=False every token of the text."""
    if not truncate and item.truncated and item.encoding is not None:
        whole = item.encoding
        return {
            "tokens": whole.tokens,
            "ids": whole.ids,
            "offsets": whole.offsets,
            "count": len(whole.ids),
            "truncated": False,
        }
    return {
        "tokens": item.tokens,
        "ids": item.ids,
        "offsets": item.offsets,
        "count": len(item),
        "truncated": item.truncated,
    }


def prediction(labels: list[str], probs: list[float], item: EncodedText) -> dict[str, Any]:
    best = max(range(len(probs)), key=probs.__getitem__)
    return {
        "label": labels[best],
        "score": probs[best],
        "probabilities": dict(zip(labels, probs, strict=True)),
        "tokens": len(item),
        "truncated": item.truncated,
    }


@dataclass(slots=True)
class Classified:
    encoded: list[EncodedText]
    probabilities: list[list[float]]  # [N, C], input order
    times: StageTimes


async def payloads_of(
    model: ServedModel, texts: Sequence[str], truncate: bool
) -> tuple[list[Payload], list[int]]:
    """What to queue, and each item's size in tokens: short texts go as they are (the batch
    worker tokenizes them, see app.scoring); the others are tokenized here first."""
    if truncate and all(len(t) <= WORKER_TOKENIZE_CHARS for t in texts):
        limit = model.max_length
        return list(texts), [estimated_tokens(t, limit) for t in texts]
    encoded = await encode(model, texts, truncate)
    return list(encoded), [len(e) for e in encoded]


async def classify(
    model: ServedModel,
    texts: Sequence[str],
    truncate: bool,
    deadline: float,
    disconnected: Disconnected | None = None,
) -> Classified:
    """Queue each text in the model's batcher (tokenized here or by the batch worker)."""
    started = time.perf_counter()
    payloads, sizes = await payloads_of(model, texts, truncate)
    tokenize_s = time.perf_counter() - started
    batcher = model.batcher
    if batcher is None:
        raise ServiceError(f"model {model.name} has no running batcher")
    # Watching for a client that leaves costs a task per request; it only pays off when the
    # texts must wait behind at least one full batch, so at low load it is skipped.
    watch = disconnected if batcher.depth >= batcher.limits.max_batch_size else None
    entries = batcher.submit(payloads, sizes, deadline)
    scored: list[Scored] = await gather_entries(entries, deadline, watch)
    times = stage_times(entries, tokenize_s, max(s.tokenize_s for s in scored))
    return Classified([s.encoded for s in scored], [s.probabilities for s in scored], times)
