"""The binary tensor data extension over HTTP: split request bodies before FastAPI reads their
JSON, and answer binary outputs after it.

The split runs in the route, inside the app's error handlers, but before FastAPI's body parsing
(which would turn any error into a generic 400). The body-size limit has been applied by then
(`BodyLimitMiddleware`), so nothing here reads more than the limit allows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.http.middleware import replay
from app.http.responses import JSONBytesResponse
from app.v2.tensor_codec import HEADER, encode_outputs, split_body

TAIL_KEY = "sentiment.v2_binary"  # scope key: the body's binary part, or absent for plain JSON
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class BinaryTensorRoute(APIRoute):
    """An APIRoute whose handler sees only the JSON header of a binary-extension body."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def split_then_handle(request: Request) -> Response:
            length = request.headers.get(HEADER)
            if length is None:
                return await handler(request)
            head, tail = split_body(await request.body(), length)
            request.scope[TAIL_KEY] = tail
            return await handler(Request(request.scope, replay(head, request.receive)))

        return split_then_handle


def binary_tail(request: Request) -> bytes | None:
    return request.scope.get(TAIL_KEY)


def v2_response(answer: dict[str, Any], binary: set[str], headers: dict[str, str]) -> Response:
    """JSON, or the JSON header then the binary outputs in order (as Triton answers)."""
    if not binary:
        return JSONBytesResponse(answer, headers=headers)
    outputs, tail = encode_outputs(answer["outputs"], binary)
    head = orjson.dumps({**answer, "outputs": outputs})
    return Response(
        head + tail,
        media_type="application/octet-stream",
        headers={**headers, HEADER: str(len(head))},
    )
