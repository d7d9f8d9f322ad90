"""Starting and stopping the servers under test: each in its own process group, logs to a file,
readiness polled with a deadline, memory sampled while it serves, always killed in the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO, SCRATCH


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/ready"
    cwd: Path = REPO  # another checkout of the repository runs its own app/ code


@dataclass
class Running:
    spec: ServerSpec
    process: subprocess.Popen
    port: int
    ready_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def wait_ready(running: Running, started: float, timeout_s: float) -> float:
    """Seconds from spawn to the first 200 on the ready path; RuntimeError past the timeout."""
    url = running.url + running.spec.ready_path
    while time.monotonic() - started < timeout_s:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.spec.name} exited with {running.process.returncode}")
        try:
            if get(url, timeout=1.0)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass  # not listening yet
        time.sleep(0.02)
    raise RuntimeError(f"{running.spec.name} not ready after {timeout_s} s")


def stop(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM to the whole process group, SIGKILL if it outlives the grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


@contextmanager
def running_server(spec: ServerSpec, timeout_s: float = 120.0) -> Iterator[Running]:
    port = free_port()
    env = {**os.environ, **spec.env, "SENTIMENT_PORT": str(port), "BENCH_PORT": str(port)}
    SCRATCH.mkdir(parents=True, exist_ok=True)
    log_path = SCRATCH / f"server-{spec.name}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.command,
            cwd=spec.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running = Running(spec, process, port)
        try:
            running.ready_s = wait_ready(running, started, timeout_s)
            yield running
        finally:
            stop(process)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB."""
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
        todo += children(current)
    return total_kb / 1024


class RssSampler:
    """Peak resident memory of a process tree, sampled in a thread while a block runs."""

    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def tree_pids(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children(current)
    return found


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of every thread in a process tree, by `pid/tid`."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage: dict[str, float] = {}
    for process in tree_pids(pid):
        for stat in Path(f"/proc/{process}/task").glob("*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            usage[f"{process}/{stat.parent.name}"] = (int(fields[11]) + int(fields[12])) / ticks
    return usage


def cpu_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request: the whole tree, and its busiest thread (on short texts
    the event loop: the serial limit that contention on a shared machine hides)."""
    spent = {k: after[k] - before.get(k, 0.0) for k in after}
    if not requests:
        return {}
    return {
        "cpu_ms_per_req": round(1e3 * sum(spent.values()) / requests, 3),
        "busiest_thread_ms_per_req": round(1e3 * max(spent.values(), default=0) / requests, 3),
    }
