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


def free_port(*taken: int) -> int:
    """A port nothing listens on now (the kernel's pick), other than `taken`."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


# what uvicorn, gRPC and the supervisor log when another process took the port in the meantime
_PORT_TAKEN = re.compile(r"Failed to bind|Address already in use|error while attempting to bind")


def _start(model_dir: Path, log: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    variables = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENT_")},
        "SENTIMENT_MODEL_DIR": str(model_dir),
        "SENTIMENT_DEFAULT_MODEL": "tiny-en",
        "SENTIMENT_PORT": str(port),
        "SENTIMENT_DRAIN_SECONDS": "0.5",
        "SENTIMENT_VARIANT": "fp32",  # exact batch/alone equality (int8 varies by ~1e-3)
        # never the fixed 8001 another process may hold
        "SENTIMENT_GRPC_PORT": str(free_port(port)),
        **env,
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=REPO, env=variables, stdout=out, stderr=out
        )


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(after_name[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _listener_inodes(port: int) -> set[str]:
    """The socket inodes listening (state 0A) on `port`, from the kernel's TCP tables."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """Whether `pid` or one of its children (the supervisor's servers) holds a socket
    listening on `port`: a connection that succeeds could reach another process."""
    inodes = _listener_inodes(port)
    for owner in (pid, *children_of(pid)):
        try:
            if any(str(fd.readlink()) in inodes for fd in Path(f"/proc/{owner}/fd").iterdir()):
                return True
        except OSError:
            continue  # it exited, or an fd closed while we looked
    return False


def _lost_its_port(process: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> bool:
    """Wait until `process` listens on `port` (False) or exits; True when it exited because a
    port it was given was taken between our pick and its bind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if listens_on(process.pid, port):
            return False
        time.sleep(0.02)
    return process.poll() is not None and bool(_PORT_TAKEN.search(log.read_text(errors="replace")))


def _log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def server(model_dir: Path, log: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real `python -m app` on a free port, yielded once it listens (or has exited). A start
    that lost a port to another process is retried on fresh ports; a failure inside the block
    carries the end of the server's log."""
    grpc_port = env.get("SENTIMENT_GRPC_PORT")  # a caller's own pick stays off the HTTP port
    taken = (int(grpc_port),) if grpc_port else ()
    for _ in range(3):
        port = free_port(*taken)
        process = _start(model_dir, log, port, env)
        if not _lost_its_port(process, port, log):
            break
    try:
        yield process, f"http://127.0.0.1:{port}"
    except AssertionError as failure:
        state = "runs" if process.poll() is None else f"exited with {process.returncode}"
        ended = f"the server {state}; its log ends:\n{_log_tail(log)}"
        raise AssertionError(f"{failure}\n{ended}") from failure
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
