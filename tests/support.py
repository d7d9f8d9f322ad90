"""Helpers for tests against a real `python -m app` process: a free port, the process itself
(uvicorn on 127.0.0.1, settings from the environment), and polling it until it answers."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.factories import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(model_dir: Path, log: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    variables = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENT_")},
        "SENTIMENT_MODEL_DIR": str(model_dir),
        "SENTIMENT_DEFAULT_MODEL": "tiny-en",
        "SENTIMENT_PORT": str(port),
        "SENTIMENT_DRAIN_SECONDS": "0.5",
        "SENTIMENT_VARIANT": "fp32",  # exact batch/alone equality (int8 varies by ~1e-3)
        "SENTIMENT_GRPC_PORT": str(free_port()),  # never the fixed 8001 another process may hold
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=REPO, env=variables, stdout=out, stderr=out
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def wait_until(url: str, status: int, timeout: float = 30) -> list[int]:
    """Poll `url` until it answers `status`; returns every status seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                seen.append((await client.get(url)).status_code)
            except httpx.TransportError:
                seen.append(0)  # not listening yet
            if seen[-1] == status:
                return seen
            await asyncio.sleep(0.01)
    raise AssertionError(f"{url} never answered {status}; saw {sorted(set(seen))}")


_QUEUE_DEPTH = re.compile(r'^sentiment_queue_depth\{model="tiny-en"\} ([0-9.]+)$', re.M)


async def queue_depth(client: httpx.AsyncClient) -> float | None:
    """tiny-en's queued texts, from /metrics (None before the gauge has a value)."""
    match = _QUEUE_DEPTH.search((await client.get("/metrics")).text)
    return float(match.group(1)) if match else None


async def _wait_for_depth(
    client: httpx.AsyncClient, reached: Callable[[float], bool], every: float, timeout: float
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        depth = await queue_depth(client)
        if depth is not None and reached(depth):
            return True
        await asyncio.sleep(every)
    return False


async def wait_for_queue(client: httpx.AsyncClient, depth: int, timeout: float = 20) -> None:
    if not await _wait_for_depth(client, lambda now: now == depth, 0.02, timeout):
        raise AssertionError(f"queue never reached {depth}")


async def wait_for_queue_over(client: httpx.AsyncClient, depth: int, timeout: float = 20) -> None:
    if not await _wait_for_depth(client, lambda now: now > depth, 0.005, timeout):
        raise AssertionError(f"the queue never held more than {depth} texts")


def spy_on_compare_digest(monkeypatch: Any) -> list[tuple[bytes, bytes]]:
    """Record every `hmac.compare_digest` call the key checks make (still comparing for real)."""
    from app.http import security

    calls: list[tuple[bytes, bytes]] = []
    real = security.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    return calls
