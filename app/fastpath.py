"""A short way through for the hot route: well-formed `POST /predict` JSON bodies are parsed and
validated in one Rust call (pydantic-core) and answered here, skipping FastAPI's routing,
dependency solving and exception layers, which cost more than the model on short texts.

Anything else goes on to FastAPI unchanged: other routes, other methods, other content types,
and every body that fails validation (replayed as read), so every error message still comes from
one place. Middleware outside this one (request id, metrics, access log, auth, body limit) runs
for both paths alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ServiceError, error_response
from app.inference import Disconnected, wait_for_client_gone
from app.middleware import CTX_KEY, RequestContext, header, replay
from app.schemas import TextsRequest

# (validated body, the request's context, disconnect probe) -> the response
Answer = Callable[[TextsRequest, RequestContext, Disconnected], Awaitable[Response]]


def json_content(scope: Scope) -> bool:
    """Whether FastAPI would read this body as JSON: no Content-Type (the route is not strict
    about it), application/json, or application/<something>+json."""
    value = header(scope, b"content-type")
    if value is None:
        return True
    kind = value.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FastPredictMiddleware:
    def __init__(self, app: ASGIApp, answer: Answer, route: BaseRoute) -> None:
        self.app = app
        self.answer = answer  # the route's own logic (app.routes.predict.answer_predict)
        self.route = route  # for the route label in metrics and logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["path"] == "/predict"
            and scope["method"] == "POST"
            and json_content(scope)
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            request = TextsRequest.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replay(body, receive), send)  # FastAPI words the error
            return
        scope["route"] = self.route
        try:
            response = await self.answer(
                request, scope[CTX_KEY], lambda: wait_for_client_gone(receive)
            )
        except ServiceError as exc:
            response = error_response(exc, scope)
        await response(scope, receive, send)
