"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a stream per request).

`RequestContextMiddleware` is outermost: request id in and out, access log, request metrics by
route template, and the one 500 answer for anything unexpected. `BodyLimitMiddleware` refuses a
body over the limit before anything parses it, with or without a Content-Length.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import CONTEXT_KEY, RequestContext, request_id_or_new
from app.core.errors import PayloadTooLarge
from app.http.error_handlers import error_response
from app.ops.logs import log_fields, request_id_var
from app.ops.metrics import Metrics
from app.ops.peers import arrived_from_peer

log = logging.getLogger("app.access")
QUIET_PATHS = frozenset({"/health", "/ready", "/v2/health/live", "/v2/health/ready", "/metrics"})


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is sane, else a fresh one."""
    given = header(scope, b"x-request-id")
    return request_id_or_new(given.decode("latin-1") if given is not None else None)


def route_template(scope: Scope) -> str:
    """`/v2/models/{name}/infer`, never the raw path: metric labels must stay few."""
    route = scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, access_log: bool = True, has_peers: bool = False
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.has_peers = has_peers  # one of several server processes (app/ops/peers.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        context = RequestContext(request_id_of(scope))
        scope[CONTEXT_KEY] = context
        token = request_id_var.set(context.request_id)
        id_header = (b"x-request-id", context.request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if status == 0:
                await error_response(exc, scope)(scope, receive, send_with_id)
            status = 500
        finally:
            self._record(scope, context, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        if self.has_peers and scope["path"] in QUIET_PATHS and arrived_from_peer(scope):
            return  # another server process asking for its /ready or /metrics: not traffic
        route = route_template(scope)
        self.metrics.observe_request(route, scope["method"], status, seconds)
        if context.error_type is not None:
            self.metrics.observe_error(context.error_type)
        if not self.access_log:
            return
        level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
        if not log.isEnabledFor(level):
            return
        extra = {
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1e3, 3),
            **context.log_fields(),
        }
        log_fields(log, level, "request", extra)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        if length is not None:
            # the server holds the body to this length, so the header alone decides
            size = int(length) if length.isdigit() else self.max_bytes + 1
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, f"{length.decode('latin-1')} bytes")
                return
            await self.app(scope, receive, send)
            return
        if header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # HTTP/1.1: neither header means no body
            return
        body = await self._read_bounded(receive)
        if body is None:
            await self._refuse(scope, receive, send, "a chunked body of more than that")
            return
        await self.app(scope, replay(body, receive), send)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        error = PayloadTooLarge(
            f"request body is {size}; the limit is {self.max_bytes} bytes. Send fewer or shorter "
            "texts per request"
        )
        await error_response(error, scope)(scope, receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then defers to the server (disconnects)."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped
