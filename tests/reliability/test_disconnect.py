"""A client that disconnects while its request waits in the queue costs no model work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.reliability.live import SHIPPED, SHIPPED_ENV, texts_inferred
from tests.support import server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(120)]
REVIEW = "A long, slow and often beautiful film about memory and loss. " * 60
SENT, KEPT = 60, 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def send_raw(port: int, text: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"text": text}).encode()
    head = (
        f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    return reader, writer


async def test_queued_requests_of_departed_clients_are_skipped(tmp_path: Path) -> None:
    env = {**SHIPPED_ENV, "SENTIMENT_MAX_BATCH_SIZE": "1", "SENTIMENT_ACCESS_LOG": "false"}
    with server(SHIPPED, tmp_path / "server.log", **env) as (_, url):
        await wait_until(f"{url}/ready", 200)
        port = int(url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            start = await texts_inferred(client, "sentiment-en")
            connections = [await send_raw(port, f"{i} {REVIEW}") for i in range(SENT)]
            for _, writer in connections[KEPT:]:  # these clients give up at once
                writer.close()
            for reader, _ in connections[:KEPT]:
                status = await asyncio.wait_for(reader.readline(), timeout=30)
                assert status.startswith(b"HTTP/1.1 200")
            await asyncio.sleep(1.0)  # let anything still queued drain
            done = await texts_inferred(client, "sentiment-en") - start
            still_serving = await client.post("/predict", json={"text": "good"})
    assert KEPT <= done < SENT, f"{done} of {SENT} texts reached the model"
    assert still_serving.status_code == 200
