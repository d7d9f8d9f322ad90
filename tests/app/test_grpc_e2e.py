"""gRPC against a real `python -m app` process: SIGTERM drains gRPC calls as it drains HTTP."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from app.v2.proto import grpc_predict_v2_pb2_grpc as pb2_grpc
from tests.app.test_grpc import infer_request
from tests.support import free_port, server, wait_for_queue, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(90)]


async def test_sigterm_answers_grpc_calls_in_flight(bundles_root: Path, tmp_path: Path) -> None:
    # every batch waits 3 s to fill: the 40 calls are still queued when SIGTERM comes and when
    # the 1.5 s drain ends, so the gRPC server's graceful stop is what answers them. The health
    # check goes out 0.3 s into the drain: 1.2 s before the server stops taking new calls, so a
    # slow test loop on a loaded machine cannot send it after the server's GOAWAY.
    port = free_port()
    env = {
        "SENTIMENT_GRPC_PORT": str(port),
        "SENTIMENT_DRAIN_SECONDS": "1.5",
        "SENTIMENT_MAX_WAIT_MS": "3000",
        "SENTIMENT_MAX_BATCH_SIZE": "256",
    }
    log = tmp_path / "log"
    with server(bundles_root, log, **env) as (process, base):
        await wait_until(f"{base}/ready", 200)
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            stub = pb2_grpc.GRPCInferenceServiceStub(channel)
            calls = [stub.ModelInfer(infer_request([f"good {i}"])) for i in range(40)]
            await wait_for_queue(client, 40)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)  # health polls readiness every 0.1 s
            health = health_pb2_grpc.HealthStub(channel)
            status = (await health.Check(health_pb2.HealthCheckRequest())).status
            answers = await asyncio.gather(*calls)
        exit_code = process.wait(timeout=30)
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING  # draining: probes say so
    assert all(len(a.raw_output_contents) == 2 for a in answers)
    assert exit_code == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()
