"""Waiting for batched results: deadlines and clients that go away."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core.batcher import Batcher, BatchLimits
from app.core.errors import ClientGone, DeadlineExceeded
from app.core.waiting import gather_entries, wait_for_client_gone

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


def slow_double(items: list[int]) -> list[int]:
    time.sleep(0.05)
    return [2 * x for x in items]


async def test_results_in_order() -> None:
    batcher = Batcher(slow_double, BatchLimits(), name="t")
    batcher.start()
    entries = batcher.submit([1, 2], [1, 1], time.monotonic() + 5)
    assert await gather_entries(entries, time.monotonic() + 5) == [2, 4]
    await batcher.stop()


async def test_client_gone_cancels_its_entries() -> None:
    batcher = Batcher(slow_double, BatchLimits(max_batch_size=1), name="t")
    batcher.start()
    first = batcher.submit([1], [1], time.monotonic() + 5)
    mine = batcher.submit([2, 3], [1, 1], time.monotonic() + 5)

    async def gone() -> None:
        await asyncio.sleep(0.01)

    with pytest.raises(ClientGone):
        await gather_entries(mine, time.monotonic() + 5, gone)
    assert all(e.future.cancelled() for e in mine)
    await first[0].future
    await batcher.stop()


async def test_deadline_while_waiting_is_504_and_cancels() -> None:
    batcher = Batcher(slow_double, BatchLimits(max_batch_size=1), name="t")
    batcher.start()
    batcher.submit([1], [1], time.monotonic() + 5)
    mine = batcher.submit([2], [1], time.monotonic() + 5)
    with pytest.raises(DeadlineExceeded):
        await gather_entries(mine, time.monotonic() + 0.01)
    assert mine[0].future.cancelled()
    await batcher.stop()


async def test_wait_for_client_gone_ignores_other_messages() -> None:
    messages = [{"type": "http.request", "body": b""}, {"type": "http.disconnect"}]
    received: list[dict] = []

    async def receive() -> dict:
        received.append(messages[len(received)])
        return received[-1]

    await asyncio.wait_for(wait_for_client_gone(receive), 1)
    assert received == messages  # read past the body message, stopped at the disconnect
