"""The gRPC server inside the service's process and event loop: the KServe v2 service and the
standard health service (grpc.health.v1), started and stopped with the app's lifespan.

Health follows readiness: SERVING once every model is loaded and warm, NOT_SERVING while
loading and from the moment a SIGTERM starts the drain. With several server processes
(`SENTIMENT_PROCESSES`) a health call reaches any of them, so each says SERVING only while every
process's /ready says 200, as HTTP's /ready does. At shutdown health turns NOT_SERVING, the
calls in flight are answered while every connection is still open, and only then (or when the
graceful timeout runs out) the server stops, before the batchers drain.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from app.core.repository import Repository
from app.core.service import Service
from app.core.settings import Settings
from app.ops.peers import Peers, others_not_ready
from app.v2.grpc_calls import CallLog
from app.v2.grpc_service import SERVICE_NAME, InferenceServicer
from app.v2.proto import grpc_predict_v2_pb2_grpc as pb2_grpc

log = logging.getLogger(__name__)
READINESS_POLL_S = 0.1  # a bool read: cheap, and probes see a drain at once
IN_FLIGHT_POLL_S = 0.02
# After the last handler returns, time for its answer to leave before the server closes the
# connections: stopping at once reset a connection whose answers were still in the transport
# (clients saw UNAVAILABLE "Stream removed", 1 run in ~15 of the SIGTERM test beside another).
FLUSH_S = 0.2
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GrpcServer:
    def __init__(
        self,
        settings: Settings,
        service: Service,
        repository: Repository,
        peers: Peers | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.repository = repository
        self.peers = peers
        self.health = health_aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.servicer: InferenceServicer | None = None
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        options = [
            ("grpc.max_receive_message_length", self.settings.max_body_bytes),
            # a port in use is an error, not a silent share; with several server processes
            # they share it (the supervisor checked that it was free before starting them)
            ("grpc.so_reuseport", int(self.settings.processes > 1)),
        ]
        server = grpc.aio.server(options=options)
        key = self.settings.api_key
        servicer = InferenceServicer(
            self.service,
            key.get_secret_value() if key else None,
            self.repository,
            self.settings.control_key,
            self.settings.access_log,
        )
        pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        where = address(self.settings.host, self.settings.grpc_port)
        server.add_insecure_port(where)  # raises RuntimeError when the port cannot be bound
        await server.start()
        self.server, self.servicer = server, servicer
        self._follower = asyncio.get_running_loop().create_task(self._follow_readiness())
        log.info("gRPC listening", extra={"address": where})

    async def _every_process_ready(self) -> bool:
        if not self.service.ready:
            return False
        return self.peers is None or await others_not_ready(self.peers) is None

    async def _follow_readiness(self) -> None:
        current = None
        while True:
            status = SERVING if await self._every_process_ready() else NOT_SERVING
            if status != current:
                for name in ("", SERVICE_NAME):
                    await self.health.set(name, status)
                current = status
            await asyncio.sleep(READINESS_POLL_S)

    async def stop(self, grace_s: float) -> None:
        """Say NOT_SERVING, answer the calls in flight (up to `grace_s` in all), then close."""
        if self._follower is not None:
            self._follower.cancel()
        await self.health.enter_graceful_shutdown()
        if self.server is None or self.servicer is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        await answer_in_flight(self.servicer.calls, deadline)
        await self.server.stop(max(0.0, deadline - loop.time()))
        log.info("gRPC stopped")


async def answer_in_flight(calls: CallLog, deadline: float) -> None:
    """Until no handler is running (or the loop-time `deadline`), then FLUSH_S more."""
    loop = asyncio.get_running_loop()
    while calls.in_flight and loop.time() < deadline:
        await asyncio.sleep(IN_FLIGHT_POLL_S)
    await asyncio.sleep(min(FLUSH_S, max(0.0, deadline - loop.time())))
