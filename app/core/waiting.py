"""Waiting for queued entries: results in order, 504 at the deadline, and clients that go away.

Generic like the batcher: it only sees futures, deadlines and a probe that returns when the
client disconnects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.core.batcher import Entry
from app.core.errors import ClientGone, DeadlineExceeded

Disconnected = Callable[[], Awaitable[Any]]
DEADLINE_MESSAGE = "the request deadline passed before the model answered; retry later"


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
    raise DeadlineExceeded(DEADLINE_MESSAGE)


async def _await_until(
    waiter: asyncio.Future, futures: list[asyncio.Future], deadline: float
) -> list:
    """The cheap path (no extra task): a timeout around the future itself."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            result = await waiter
    except TimeoutError:
        raise DeadlineExceeded(DEADLINE_MESSAGE) from None
    except BaseException:
        for future in futures:
            future.cancel()  # one text failed or the request was cancelled: drop the rest
        raise
    return [result] if len(futures) == 1 else result
