"""One gRPC call's bookkeeping, as `app/http/middleware.py` keeps it for an HTTP request.

- a request id: the caller's `x-request-id` metadata when sane, else a new one; it tags every
  log line of the call, goes back as `x-request-id` trailing metadata (errors included), and
  a ModelInfer without an `id` is answered with it, as HTTP answers its request id;
- one access-log line (logger `app.access`, as HTTP's): method, status code, duration, model,
  error type and the stage timings;
- the gRPC metrics, apart from HTTP's: `sentiment_grpc_requests_total{method,code}` and
  `sentiment_grpc_request_duration_seconds{method}`.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass

import grpc

from app.core.context import RequestContext, request_id_or_new
from app.ops.logs import log_fields, request_id_var
from app.ops.metrics import Metrics

log = logging.getLogger("app.access")
REQUEST_ID_KEY = "x-request-id"


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> bytes | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, bytes) else value.encode()
    return None


@dataclass(slots=True)
class Call:
    """One call in flight: the per-request facts (`RequestContext`, as HTTP's) and its start."""

    method: str  # ModelInfer, ModelMetadata, ...
    context: RequestContext
    started: float
    token: contextvars.Token[str]

    @property
    def request_id(self) -> str:
        return self.context.request_id


class CallLog:
    """Each call's request id, metrics and access line; `in_flight` counts the calls whose
    handler has not returned yet (what a graceful stop waits for)."""

    def __init__(self, metrics: Metrics, access_log: bool, service_name: str) -> None:
        self.metrics = metrics
        self.access_log = access_log
        self.service_name = service_name
        self.in_flight = 0

    def begin(self, method: str, context: grpc.aio.ServicerContext) -> Call:
        self.in_flight += 1
        given = metadata_value(context, REQUEST_ID_KEY)
        request_id = request_id_or_new(given.decode("latin-1") if given is not None else None)
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        token = request_id_var.set(request_id)
        return Call(method, RequestContext(request_id), time.perf_counter(), token)

    def end(self, call: Call, code: grpc.StatusCode) -> None:
        seconds = time.perf_counter() - call.started
        try:
            self.metrics.observe_grpc(call.method, code.name, seconds)
            if self.access_log and log.isEnabledFor(logging.INFO):
                log_fields(log, logging.INFO, "grpc request", self._fields(call, code, seconds))
        finally:
            request_id_var.reset(call.token)
            self.in_flight -= 1

    def _fields(self, call: Call, code: grpc.StatusCode, seconds: float) -> dict[str, object]:
        return {
            "protocol": "grpc",
            "grpc_method": call.method,
            "path": f"/{self.service_name}/{call.method}",
            "code": code.name,
            "duration_ms": round(seconds * 1e3, 3),
            **call.context.log_fields(),
        }
