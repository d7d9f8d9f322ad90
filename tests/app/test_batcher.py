"""The batcher with plain Python functions: no text, no ONNX."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.core.batcher import Batcher, BatchLimits, BatchStats
from app.core.errors import DeadlineExceeded, Draining, QueueFull

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


class Recorder:
    """A batch function that doubles its inputs and remembers every batch it saw."""

    def __init__(self, fail_on: int | None = None, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.delay = delay

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot handle {self.fail_on}")
        return [2 * x for x in items]


def far() -> float:
    return time.monotonic() + 30


async def make(fn: Recorder, **limits: float) -> Batcher:
    batcher = Batcher(fn, BatchLimits(**limits), name="test")
    batcher.start()
    return batcher


async def test_results_come_back_in_input_order() -> None:
    batcher = await make(Recorder())
    entries = batcher.submit([5, 1, 3], [5, 1, 3], far())
    assert await asyncio.gather(*(e.future for e in entries)) == [10, 2, 6]
    await batcher.stop()


async def test_batch_is_sorted_by_size() -> None:
    fn = Recorder()
    batcher = await make(fn)
    entries = batcher.submit([5, 1, 3], [5, 1, 3], far())
    await asyncio.gather(*(e.future for e in entries))
    assert fn.batches == [[1, 3, 5]]
    await batcher.stop()


async def test_flushes_at_max_batch_size() -> None:
    fn = Recorder()
    batcher = await make(fn, max_batch_size=2)
    entries = batcher.submit([1, 2, 3, 4, 5], [1] * 5, far())
    await asyncio.gather(*(e.future for e in entries))
    assert [len(b) for b in fn.batches] == [2, 2, 1]
    await batcher.stop()


async def test_flushes_at_token_budget() -> None:
    fn = Recorder()
    batcher = await make(fn, max_batch_tokens=10)
    # sizes 4, 4, 4: two fit (2 x 4 = 8), a third would pad to 12 > 10
    entries = batcher.submit([1, 2, 3], [4, 4, 4], far())
    await asyncio.gather(*(e.future for e in entries))
    assert fn.batches == [[1, 2], [3]]
    await batcher.stop()


async def test_budget_counts_padding_to_the_longest() -> None:
    fn = Recorder()
    batcher = await make(fn, max_batch_tokens=10)
    # 1 then 9: padded 2 x 9 = 18 > 10, so the long one waits for the next batch
    entries = batcher.submit([1, 2], [1, 9], far())
    await asyncio.gather(*(e.future for e in entries))
    assert fn.batches == [[1], [2]]
    await batcher.stop()


async def test_oversized_entry_still_runs_alone() -> None:
    fn = Recorder()
    batcher = await make(fn, max_batch_tokens=10)
    (entry,) = batcher.submit([7], [50], far())
    assert await entry.future == 14
    await batcher.stop()


async def test_without_wait_takes_what_is_queued() -> None:
    fn = Recorder()
    batcher = await make(fn, max_wait_s=0)
    first = batcher.submit([1], [1], far())[0]
    await first.future
    second = batcher.submit([2], [1], far())[0]
    await second.future
    assert fn.batches == [[1], [2]]
    await batcher.stop()


async def test_flushes_on_time_when_not_full() -> None:
    fn = Recorder()
    batcher = await make(fn, max_batch_size=8, max_wait_s=0.05)
    started = time.monotonic()
    (entry,) = batcher.submit([1], [1], far())
    await entry.future
    assert 0.04 <= time.monotonic() - started < 1.0
    await batcher.stop()


async def test_wait_gathers_later_arrivals_into_one_batch() -> None:
    fn = Recorder()
    # a long wait that a full batch cuts short: the test never depends on how fast it runs
    batcher = await make(fn, max_batch_size=2, max_wait_s=30)
    first = batcher.submit([1], [1], far())[0]
    await asyncio.sleep(0.02)
    second = batcher.submit([2], [1], far())[0]
    await asyncio.gather(first.future, second.future)
    assert fn.batches == [[1, 2]]
    await batcher.stop()


async def test_exception_fails_exactly_its_batch_and_next_batch_is_served() -> None:
    fn = Recorder(fail_on=2)
    batcher = await make(fn, max_batch_size=2)
    entries = batcher.submit([1, 2, 3, 4], [1] * 4, far())
    results = await asyncio.gather(*(e.future for e in entries), return_exceptions=True)
    assert isinstance(results[0], ValueError) and isinstance(results[1], ValueError)
    assert results[2:] == [6, 8]
    (later,) = batcher.submit([5], [1], far())
    assert await later.future == 10
    await batcher.stop()


async def test_cancelled_entries_are_skipped() -> None:
    fn = Recorder(delay=0.05)
    batcher = await make(fn, max_batch_size=1)
    entries = batcher.submit([1, 2, 3], [1] * 3, far())
    entries[1].future.cancel()  # the client of the second text has gone
    await asyncio.gather(entries[0].future, entries[2].future)
    assert fn.batches == [[1], [3]]
    await batcher.stop()


async def test_full_queue_raises_at_once_with_retry_after() -> None:
    batcher = Batcher(Recorder(), BatchLimits(max_queue=2), name="test")  # not started: stays full
    batcher.submit([1, 2], [1, 1], far())
    with pytest.raises(QueueFull) as caught:
        batcher.submit([3], [1], far())
    assert caught.value.headers["Retry-After"] == "1"


async def test_queue_takes_all_of_a_request_or_none() -> None:
    batcher = Batcher(Recorder(), BatchLimits(max_queue=2), name="test")
    batcher.submit([1], [1], far())
    with pytest.raises(QueueFull):
        batcher.submit([2, 3], [1, 1], far())
    assert batcher.depth == 1


async def test_entry_past_deadline_times_out_and_is_not_run() -> None:
    fn = Recorder()
    batcher = await make(fn)
    (entry,) = batcher.submit([1], [1], time.monotonic() - 0.001)
    with pytest.raises(DeadlineExceeded):
        await entry.future
    assert fn.batches == []
    await batcher.stop()


class Gate:
    """A batch function that holds its first batch until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.batches: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        if not self.open.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")
        return [2 * x for x in items]


async def test_deadline_passing_while_queued_behind_a_slow_batch() -> None:
    fn = Gate()
    batcher = Batcher(fn, BatchLimits(max_batch_size=1), name="test")
    batcher.start()
    (held,) = batcher.submit([1], [1], far())
    (quick,) = batcher.submit([2], [1], time.monotonic() + 0.05)
    await asyncio.sleep(0.1)  # the quick one's deadline passes while the first batch is held
    fn.open.set()
    assert await held.future == 2
    with pytest.raises(DeadlineExceeded):
        await quick.future
    assert fn.batches == [[1]]
    await batcher.stop()


async def test_stop_answers_everything_queued_then_refuses() -> None:
    fn = Recorder(delay=0.01)
    batcher = await make(fn, max_batch_size=2)
    entries = batcher.submit(list(range(7)), [1] * 7, far())
    await batcher.stop()
    assert [e.future.result() for e in entries] == [2 * x for x in range(7)]
    with pytest.raises(Draining):
        batcher.submit([1], [1], far())


async def test_function_runs_off_the_event_loop_thread() -> None:
    threads: list[str] = []

    def fn(items: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        return items

    batcher = Batcher(fn, BatchLimits(), name="test")
    batcher.start()
    await batcher.submit([1], [1], far())[0].future
    assert threads and threads[0] != threading.current_thread().name
    await batcher.stop()


async def test_reports_batch_stats() -> None:
    seen: list[BatchStats] = []
    batcher = Batcher(Recorder(), BatchLimits(), name="test", on_batch=seen.append)
    batcher.start()
    entries = batcher.submit([1, 2, 3], [2, 5, 3], far())
    await asyncio.gather(*(e.future for e in entries))
    assert seen[0].size == 3 and seen[0].padded == 15 and len(seen[0].waits) == 3
    await batcher.stop()


async def test_wrong_result_count_fails_the_batch() -> None:
    batcher = Batcher(lambda items: items[:-1], BatchLimits(), name="test")
    batcher.start()
    entries = batcher.submit([1, 2], [1, 1], far())
    with pytest.raises(RuntimeError, match="gave 1 results for 2"):
        await entries[0].future
    await batcher.stop()


class Overlap:
    """A batch function that records how many calls run at once; with `meet`, each call waits
    for that many calls to be running together (so overlap is certain, not a matter of timing)."""

    def __init__(self, meet: int) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.meeting = threading.Barrier(meet, timeout=10)

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.meeting.wait()
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return items


@pytest.mark.parametrize("workers", [1, 2])
async def test_workers_bound_the_batches_running_at_once(workers: int) -> None:
    fn = Overlap(meet=workers)
    batcher = Batcher(fn, BatchLimits(max_batch_size=1, workers=workers), name="test")
    batcher.start()
    entries = batcher.submit([1, 2, 3, 4], [1, 1, 1, 1], far())
    assert await asyncio.gather(*(e.future for e in entries)) == [1, 2, 3, 4]
    assert fn.most == workers
    await batcher.stop()


async def test_stop_waits_for_every_batch_in_flight() -> None:
    batcher = Batcher(Recorder(delay=0.1), BatchLimits(max_batch_size=1, workers=2), name="t")
    batcher.start()
    entries = batcher.submit([1, 2, 3], [1, 1, 1], far())
    await asyncio.sleep(0.01)
    await batcher.stop()
    assert [e.future.result() for e in entries] == [2, 4, 6]
