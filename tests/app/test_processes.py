"""`SENTIMENT_PROCESSES=2` end to end: a real supervisor and two real `python -m app` children on
one port, asked over fresh connections (each may reach either child)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.support import children_of, free_port, server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(120)]
ADMIN_KEY = "admin-s3cret"
TWO = {
    "SENTIMENT_PROCESSES": "2",
    "SENTIMENT_MODEL_CONTROL": "true",
    "SENTIMENT_ADMIN_KEY": ADMIN_KEY,
}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


async def fresh(method: str, url: str, **kwargs: object) -> httpx.Response:
    """One request on a connection of its own, so that the kernel picks the process anew."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, **kwargs)


def per_process(page: str, name: str, **labels: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                process = sample.labels["process"]
                values[process] = values.get(process, 0.0) + sample.value
    return values


def listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (IPv4, /proc/net/tcp; state 0A = LISTEN)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def memfd_inodes(pid: int) -> set[str]:
    """The shared run-count files a process holds open (by inode)."""
    return {
        str(fd.stat().st_ino)
        for fd in Path(f"/proc/{pid}/fd").iterdir()
        if str(fd.readlink()).startswith("/memfd:sentiment-runs")
    }


async def served_models(base: str, times: int) -> set[tuple[str, ...]]:
    seen = set()
    for _ in range(times):
        body = (await fresh("GET", f"{base}/models")).json()
        seen.add(tuple(sorted(m["name"] for m in body["models"])))
    return seen


async def test_two_processes_answer_as_one_service(bundles_root: Path, tmp_path: Path) -> None:
    with server(bundles_root, tmp_path / "log", **TWO) as (supervisor, base):
        await wait_until(f"{base}/ready", 200, timeout=60)
        children = children_of(supervisor.pid)
        assert len(children) == 2, children
        for i in range(40):
            answer = await fresh("POST", f"{base}/predict", json={"text": f"great film {i}"})
            assert answer.status_code == 200, answer.text
        page = (await fresh("GET", f"{base}/metrics")).text
        assert per_process(page, "sentiment_ready") == {"0": 1.0, "1": 1.0}
        predicted = per_process(page, "sentiment_http_requests_total", route="/predict")
        assert sum(predicted.values()) == 40, predicted  # each request counted once, somewhere
        # each child listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
        # connections evenly instead of handing them to whichever child wakes first
        listeners = listening_inodes(int(base.rsplit(":", 1)[1]))
        held = [socket_inodes(child) & listeners for child in children]
        assert len(listeners) == 2 and held[0] and held[1] and not held[0] & held[1], held
        assert min(predicted.values()) >= 8, predicted  # of 40: a hash's spread, not one child
        # both hold the one shared file of run counts (app/ops/shared_runs.py)
        assert memfd_inodes(children[0]) == memfd_inodes(children[1]) != set()
        # a scrape does not count the other process's answer to it as traffic
        assert per_process(page, "sentiment_http_requests_total", route="/metrics") == {}

        unloaded = await fresh("POST", f"{base}/v2/repository/models/tiny-ko/unload", headers=ADMIN)
        assert unloaded.status_code == 200, unloaded.text
        assert await served_models(base, 12) == {("tiny-en",)}
        loaded = await fresh("POST", f"{base}/v2/repository/models/tiny-ko/load", headers=ADMIN)
        assert loaded.status_code == 200, loaded.text
        assert await served_models(base, 12) == {("tiny-en", "tiny-ko")}
        refused = await fresh("POST", f"{base}/v2/repository/models/tiny-ko/load")
        assert refused.status_code == 401  # the key is still checked where the call arrives

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert all(gone(pid) for pid in children)


async def grpc_health(port: int) -> int:
    """The gRPC health status, asked over a fresh channel (any process may answer)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return (await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)).status


async def grpc_serving(port: int, in_a_row: int = 6, timeout: float = 30) -> None:
    """Until `in_a_row` fresh channels in a row hear SERVING: each process's health service
    follows readiness by asking the others, so they turn SERVING a poll or two apart."""
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and streak < in_a_row:
        serving = await grpc_health(port) == health_pb2.HealthCheckResponse.SERVING
        streak = streak + 1 if serving else 0
        await asyncio.sleep(0.05)
    assert streak >= in_a_row, "gRPC health never said SERVING on every channel"


async def test_ready_is_503_while_any_process_is_not(bundles_root: Path, tmp_path: Path) -> None:
    grpc_port = free_port()
    env = {**TWO, "SENTIMENT_DRAIN_SECONDS": "4", "SENTIMENT_GRPC_PORT": str(grpc_port)}
    with server(bundles_root, tmp_path / "log", **env) as (supervisor, base):
        await wait_until(f"{base}/ready", 200, timeout=60)
        await grpc_serving(grpc_port)
        draining, _other = children_of(supervisor.pid)
        os.kill(draining, signal.SIGTERM)  # one child drains, as if told to stop on its own
        time.sleep(0.3)
        statuses = [(await fresh("GET", f"{base}/ready")).status_code for _ in range(8)]
        statuses += [(await fresh("GET", f"{base}/v2/health/ready")).status_code for _ in range(8)]
        assert statuses == [503] * 16, statuses
        # gRPC health too: whichever process a channel reaches says NOT_SERVING
        await asyncio.sleep(0.6)  # each health service asks the others every 0.1 s
        health = [await grpc_health(grpc_port) for _ in range(6)]
        assert health == [health_pb2.HealthCheckResponse.NOT_SERVING] * 6
        # a child that stops when nobody asked the service to: the whole service stops, not 0
        assert supervisor.wait(timeout=30) == 1


async def test_a_child_that_dies_stops_the_others(bundles_root: Path, tmp_path: Path) -> None:
    with server(bundles_root, tmp_path / "log", **TWO) as (supervisor, base):
        await wait_until(f"{base}/ready", 200, timeout=60)
        killed, other = children_of(supervisor.pid)
        os.kill(killed, signal.SIGKILL)
        assert supervisor.wait(timeout=30) == 1
        assert gone(other)
    assert "server process 0 exited with -9" in (tmp_path / "log").read_text()


async def test_children_stop_when_the_supervisor_is_killed(
    bundles_root: Path, tmp_path: Path
) -> None:
    with server(bundles_root, tmp_path / "log", **TWO) as (supervisor, base):
        await wait_until(f"{base}/ready", 200, timeout=60)
        children = children_of(supervisor.pid)
        supervisor.kill()
        supervisor.wait(timeout=10)
        assert all(gone(pid) for pid in children)
