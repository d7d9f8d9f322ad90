"""The pieces that make several server processes one service: the peer client, the merged
metrics page, per-process payload files and the settings that refuse what cannot work."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from app.core.errors import ProcessesDiffer
from app.core.settings import Settings
from app.ops.metrics import Metrics
from app.ops.metrics_merge import merge_pages
from app.ops.payload_log import process_path
from app.ops.peers import PROCESS_ENV, Peers, arrived_from_peer, parse_response, repeat_control

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


def page(requests: int, ready: bool) -> bytes:
    metrics = Metrics()
    for _ in range(requests):
        metrics.observe_request("/predict", "POST", 200, 0.002)
    metrics.watch_service(lambda: {"en": 3}, 1024, lambda: ready)
    return metrics.render()


def samples(text: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_merged_page_keeps_every_process_series_under_its_label() -> None:
    merged = merge_pages([(0, page(3, True)), (1, page(5, False))])
    requests = samples(merged, "sentiment_http_requests_total")
    assert {dict(k)["process"]: v for k, v in requests.items()} == {"0": 3.0, "1": 5.0}
    ready = samples(merged, "sentiment_ready")
    assert {dict(k)["process"]: v for k, v in ready.items()} == {"0": 1.0, "1": 0.0}
    counts = samples(merged, "sentiment_http_request_duration_seconds_count")
    assert sum(counts.values()) == 8
    # one HELP and one TYPE line per metric, however many processes
    assert merged.count(b"# TYPE sentiment_ready gauge") == 1


def test_peers_round_trip_through_the_environment() -> None:
    peers = Peers(1, 3, "sentiment-7-ab")
    assert Peers.from_env({PROCESS_ENV: peers.env_value()}) == peers
    assert Peers.from_env({}) is None
    assert peers.others == [0, 2]
    assert peers.address(2) == "\0sentiment-7-ab.2"  # abstract: no file to write


def test_only_requests_without_a_server_address_come_from_peers() -> None:
    assert arrived_from_peer({"server": None})  # uvicorn, on an abstract Unix socket
    assert not arrived_from_peer({"server": ("127.0.0.1", 8000)})


def test_parse_response_reads_status_and_body_and_refuses_what_it_cannot() -> None:
    raw = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nhello"
    assert parse_response(raw) == (503, b"hello")
    with pytest.raises(ValueError, match="chunked"):
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
    with pytest.raises(ValueError, match="ended after 2 of 5"):
        parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhe")
    with pytest.raises(ValueError, match="before its headers"):
        parse_response(b"HTTP/1.1 200 OK\r\ncontent-le")


async def serve_unix(address: str, status: int, body: bytes, seen: list[bytes]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n%s" % (status, len(body), body))
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(answer, address)


def unique_peers(index: int, count: int) -> Peers:
    return Peers(index, count, f"sentiment-test-{os.getpid()}-{time.monotonic_ns()}")


async def test_repeat_control_asks_every_other_process_with_the_admin_key() -> None:
    seen: list[bytes] = []
    peers = unique_peers(0, 3)
    servers = [await serve_unix(peers.address(i), 200, b"{}", seen) for i in (1, 2)]
    try:
        await repeat_control(peers, "k3y", "unload", "tiny ko")
    finally:
        for s in servers:
            s.close()
    assert len(seen) == 2
    for request in seen:
        assert request.startswith(b"POST /v2/repository/models/tiny%20ko/unload HTTP/1.1\r\n")
        assert b"Authorization: Bearer k3y\r\n" in request


async def test_repeat_control_names_the_process_that_failed() -> None:
    peers = unique_peers(0, 2)
    server = await serve_unix(peers.address(1), 400, b'{"error":"bad sha256"}', [])
    try:
        with pytest.raises(ProcessesDiffer, match=r"process 1 answered 400: .*bad sha256"):
            await repeat_control(peers, None, "load", "tiny-en")
    finally:
        server.close()
        await server.wait_closed()
    # nobody listening any more: the error says so instead of hanging
    with pytest.raises(ProcessesDiffer, match=r"process 1 did not answer POST .*; repeat the call"):
        await repeat_control(peers, None, "load", "tiny-en")


def test_each_process_writes_its_own_payload_file(tmp_path: Path) -> None:
    path = tmp_path / "payload.jsonl"
    assert process_path(path, None) == path
    assert process_path(path, Peers(1, 2, "x")) == tmp_path / "payload.p1.jsonl"


def test_several_processes_need_a_fixed_grpc_port() -> None:
    with pytest.raises(ValidationError, match="fixed SENTIMENT_GRPC_PORT"):
        Settings(processes=2, grpc_port=0)
    assert Settings(processes=2, grpc_port=0, grpc_enabled=False).processes == 2
