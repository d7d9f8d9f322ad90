"""Dynamic batching of work items: a bounded queue of entries and one worker loop per batcher.

The batcher knows nothing about text or ONNX. It is given a function from a list of payloads to a
list of results (one per payload, same order) and runs it in a worker thread, so the event loop
keeps serving while ONNX Runtime (which releases the GIL) computes. Each entry has a `size` (for
text: its token count); a batch holds at most `max_batch_size` entries and at most
`max_batch_tokens` padded units, that is entries x the largest size, since padded rows cost as
much as the longest one. Times come from the monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.core.errors import DeadlineExceeded, Draining, QueueFull

log = logging.getLogger(__name__)
P = TypeVar("P")
R = TypeVar("R")


@dataclass(slots=True, eq=False)
class Entry(Generic[P, R]):
    """One queued item; the batcher fills in `started`/`finished` for per-stage timings."""

    payload: P
    size: int
    deadline: float  # monotonic seconds
    future: asyncio.Future[R]
    enqueued: float = field(default_factory=time.monotonic)
    started: float = 0.0
    finished: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchStats:
    size: int  # entries run together
    padded: int  # size x largest entry size
    waits: tuple[float, ...]  # seconds each entry spent queued
    run_s: float  # seconds the function took


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    max_wait_s: float = 0.0  # 0: take what is queued; a fixed wait doubles latency at low load
    max_queue: int = 1024
    retry_after_s: int = 1  # advertised with QueueFull
    workers: int = 1  # batches run at once, each in its own thread (the function must allow it)


class Batcher(Generic[P, R]):
    def __init__(
        self,
        fn: Callable[[list[P]], Sequence[R]],
        limits: BatchLimits,
        name: str = "batcher",
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self._fn = fn
        self.limits = limits
        self.name = name
        self._on_batch = on_batch
        self._queue: deque[Entry[P, R]] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()  # batches in flight
        self._free = asyncio.Semaphore(limits.workers)
        self._executor = ThreadPoolExecutor(
            max_workers=limits.workers, thread_name_prefix=f"batch-{name}"
        )

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"batcher-{self.name}"
        )

    def submit(self, payloads: Sequence[P], sizes: Sequence[int], deadline: float) -> list[Entry]:
        """Queue all items or none: raises Draining while stopping, QueueFull when no room."""
        if self._closing:
            raise Draining(f"model {self.name} is shutting down; retry on another instance")
        if len(self._queue) + len(payloads) > self.limits.max_queue:
            raise QueueFull(
                f"model {self.name} has {len(self._queue)} texts queued (limit "
                f"{self.limits.max_queue}); retry after {self.limits.retry_after_s} s",
                headers={"Retry-After": str(self.limits.retry_after_s)},
            )
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        entries = [
            Entry(payload, size, deadline, loop.create_future(), now)
            for payload, size in zip(payloads, sizes, strict=True)
        ]
        self._queue.extend(entries)
        self._wakeup.set()
        return entries

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Refuse new work, answer everything already queued, then end the worker."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
                if self._running:
                    await asyncio.wait(set(self._running), timeout=timeout_s)
            except TimeoutError:
                self._task.cancel()
                log.error("batcher %s did not drain in %.1f s", self.name, timeout_s)
        self._fail_queued(Draining(f"model {self.name} stopped before this text was run"))
        self._executor.shutdown(wait=False)

    def _fail_queued(self, exc: Exception) -> None:
        while self._queue:
            entry = self._queue.popleft()
            if not entry.future.done():
                entry.future.set_exception(exc)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._free.acquire()  # a worker is free: only then form the next batch
            if not self._queue:
                self._free.release()
                continue
            try:
                await self._fill()
                batch = self._take()
            except Exception:  # the loop must outlive any bug in one batch
                log.exception("batcher %s: unexpected error", self.name)
                batch = []
            if not batch:
                self._free.release()
                continue
            task = asyncio.get_running_loop().create_task(self._execute_and_free(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _execute_and_free(self, batch: list[Entry[P, R]]) -> None:
        try:
            await self._execute(batch)
        except Exception:
            log.exception("batcher %s: unexpected error", self.name)
        finally:
            self._free.release()

    async def _fill(self) -> None:
        """Wait up to max_wait_s after the oldest entry arrived for the batch to fill up."""
        deadline = self._queue[0].enqueued + self.limits.max_wait_s
        while len(self._queue) < self.limits.max_batch_size and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[Entry[P, R]]:
        """Oldest first, skipping cancelled entries and failing expired ones, within the limits."""
        now = time.monotonic()
        batch: list[Entry[P, R]] = []
        longest = 0
        while self._queue and len(batch) < self.limits.max_batch_size:
            entry = self._queue[0]
            if entry.future.done():  # cancelled: the client has gone
                self._queue.popleft()
                continue
            if now >= entry.deadline:
                self._queue.popleft()
                entry.future.set_exception(
                    DeadlineExceeded(
                        f"waited {now - entry.enqueued:.3f} s in the queue of "
                        f"model {self.name}, past the request deadline"
                    )
                )
                continue
            widest = max(longest, entry.size)
            if batch and widest * (len(batch) + 1) > self.limits.max_batch_tokens:
                break
            batch.append(self._queue.popleft())
            longest = widest
        batch.sort(key=lambda e: e.size)  # rows by length: the function may bucket cheaply
        return batch

    async def _execute(self, batch: list[Entry[P, R]]) -> None:
        started = time.monotonic()
        for entry in batch:
            entry.started = started
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                self._executor, self._fn, [e.payload for e in batch]
            )
            if len(results) != len(batch):
                raise RuntimeError(f"batch function gave {len(results)} results for {len(batch)}")
        except Exception as exc:
            log.exception("batcher %s: batch of %d failed", self.name, len(batch))
            self._settle(batch, None, exc)
        else:
            self._settle(batch, results, None)
        self._report(batch, started)

    @staticmethod
    def _settle(batch: list[Entry], results: Sequence | None, exc: Exception | None) -> None:
        finished = time.monotonic()
        for i, entry in enumerate(batch):
            entry.finished = finished
            if entry.future.done():
                continue
            if exc is not None:
                entry.future.set_exception(exc)
            else:
                entry.future.set_result(results[i])

    def _report(self, batch: list[Entry], started: float) -> None:
        if self._on_batch is None:
            return
        stats = BatchStats(
            size=len(batch),
            padded=len(batch) * max(e.size for e in batch),
            waits=tuple(started - e.enqueued for e in batch),
            run_s=batch[0].finished - started,
        )
        try:
            self._on_batch(stats)
        except Exception:
            log.exception("batcher %s: on_batch callback failed", self.name)
