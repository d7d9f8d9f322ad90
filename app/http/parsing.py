"""The one parser of request bodies that the hot route reads itself, with FastAPI's semantics.

A well-formed JSON body is parsed and validated in one Rust call (pydantic-core). Anything else
is read again the way FastAPI reads a body parameter (stdlib JSON for JSON content types, raw
bytes otherwise, "Field required" for no body), so that the error is worded by the one
`validation_message` exactly as FastAPI's own validation errors are. Only failures pay for the
second read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.types import Receive

from app.core.errors import InvalidInput
from app.http.error_handlers import validation_message

M = TypeVar("M", bound=BaseModel)


def json_content(content_type: bytes | None) -> bool:
    """Whether FastAPI would read this body as JSON: no Content-Type (the routes are not strict
    about it), application/json, or application/<something>+json."""
    if content_type is None:
        return True
    kind = content_type.split(b";", 1)[0].strip().lower()
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


def parse_body(model: type[M], body: bytes, content_type: bytes | None) -> M:
    """The validated body, or InvalidInput worded as for any other route's body."""
    is_json = json_content(content_type)
    if is_json and body:
        try:
            return model.model_validate_json(body)
        except ValidationError:
            pass  # read again below, the way FastAPI does, to word the error alike
    value, errors = _read_like_fastapi(body, is_json)
    if not errors:
        try:
            # from_attributes: FastAPI validates body fields so; it words non-objects alike
            return model.model_validate(value, from_attributes=True)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    raise InvalidInput(validation_message(errors))


def _read_like_fastapi(body: bytes, is_json: bool) -> tuple[Any, list[Mapping[str, Any]]]:
    """(the body value FastAPI would validate, or the errors it would answer instead)."""
    if not body:
        return None, [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
    if not is_json:
        return body, []
    try:
        return json.loads(body), []
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "ctx": {"error": exc.msg}}
        return None, [error]
    except Exception:  # undecodable bytes, nesting too deep: FastAPI answers 400, mapped to this
        raise InvalidInput(
            "the request body could not be read: There was an error parsing the body"
        ) from None
