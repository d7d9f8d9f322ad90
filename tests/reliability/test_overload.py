"""Overload: a burst of ten times the queue's capacity gets only 200s and 429s, quickly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.reliability.live import SHIPPED, rss_mb
from tests.support import server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(120)]
QUEUE = 16
REVIEW = "An uneven film with a few wonderful scenes and a dull, overlong middle. " * 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def burst(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/predict", json={"text": f"{i} {REVIEW}"}) for i in range(count))
        )


async def test_burst_of_ten_times_the_queue_gets_200s_and_429s(tmp_path: Path) -> None:
    env = {
        "SENTIMENT_MAX_QUEUE": str(QUEUE),
        "SENTIMENT_MAX_BATCH_SIZE": "1",
        "SENTIMENT_ACCESS_LOG": "false",
    }
    with server(SHIPPED, tmp_path / "server.log", **env) as (process, url):
        await wait_until(f"{url}/ready", 200)
        before = rss_mb(process.pid)
        answers = [r for _ in range(3) for r in await burst(url, 10 * QUEUE)]
        after = rss_mb(process.pid)
        statuses = {r.status_code for r in answers}
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            ready = await client.get("/ready")
            single = await client.post("/predict", json={"text": "fine"})
    assert statuses == {200, 429}, statuses
    refused = [r for r in answers if r.status_code == 429]
    assert all(r.headers.get("retry-after") == "1" for r in refused)
    assert all(r.json()["type"] == "queue_full" for r in refused)
    assert after - before < 100, f"RSS grew from {before:.0f} to {after:.0f} MB"
    assert (ready.status_code, single.status_code) == (200, 200)
