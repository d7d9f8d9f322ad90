"""One table from domain exceptions to HTTP status codes, and the one error body shape.

Every error the service answers is `{"error": "<what to fix>", "type": "<kind>"}`: domain errors,
FastAPI's validation errors, Starlette's 404/405, body limits, auth, and unexpected exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.core.context import context_of
from app.http.responses import JSONBytesResponse


class ServiceError(Exception):
    """Base of every error the service answers on purpose; the message says what to fix."""

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class InvalidInput(ServiceError):
    """The request is malformed: wrong types, empty text, too many texts, unknown fields."""


class MalformedBody(InvalidInput):
    """The body's framing is broken: binary tensor sizes or length prefixes that do not add up."""


class PayloadTooLarge(ServiceError):
    """The body, a text or its tokens exceed a limit."""


class ModelNotFound(ServiceError):
    """The request names a model that is not loaded."""


class BundleRejected(ServiceError):
    """A bundle asked to load failed verification or warm-up; the old version keeps serving."""


class Conflict(ServiceError):
    """The request is well formed but the server's current state refuses it (unload the default)."""


class NotFound(ServiceError):
    """No route at this path."""


class MethodNotAllowed(ServiceError):
    """The route exists but not for this HTTP method."""


class Unauthorized(ServiceError):
    """The API key is missing or wrong."""


class QueueFull(ServiceError):
    """The model's queue is full; retry after a moment."""


class NotReady(ServiceError):
    """Models are still loading, failed to load, or the service is draining."""


class Draining(NotReady):
    """The service is shutting down and takes no new work."""


class DeadlineExceeded(ServiceError):
    """The request's deadline passed before its answer was ready."""


# The one table: exception class -> (HTTP status, error type). Lookup walks the class's MRO, so
# subclasses may specialise the type while keeping the status.
ERROR_TABLE: dict[type[Exception], tuple[int, str]] = {
    MalformedBody: (400, "malformed_body"),
    BundleRejected: (400, "bundle_rejected"),
    InvalidInput: (422, "invalid_input"),
    PayloadTooLarge: (413, "payload_too_large"),
    ModelNotFound: (404, "model_not_found"),
    NotFound: (404, "not_found"),
    MethodNotAllowed: (405, "method_not_allowed"),
    Conflict: (409, "conflict"),
    Unauthorized: (401, "unauthorized"),
    QueueFull: (429, "queue_full"),
    Draining: (503, "draining"),
    NotReady: (503, "not_ready"),
    DeadlineExceeded: (504, "timeout"),
    ServiceError: (500, "internal"),
    Exception: (500, "internal"),
}
INTERNAL_MESSAGE = "internal server error; the server log has details under this request id"


def status_and_type(exc: BaseException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ERROR_TABLE[Exception]


def error_response(exc: BaseException, scope: dict | None = None) -> JSONBytesResponse:
    """The response for any exception; unexpected ones never leak their text or traceback."""
    status, kind = status_and_type(exc)
    message = exc.message if isinstance(exc, ServiceError) else INTERNAL_MESSAGE
    headers = exc.headers if isinstance(exc, ServiceError) else None
    context = context_of(scope) if scope is not None else None
    if context is not None:
        context.error_type = kind
    return JSONBytesResponse({"error": message, "type": kind}, status_code=status, headers=headers)


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's errors (locations start with "body") as one line: where, then what is wrong,
    for each problem. The one wording of every validation error, whichever parser found it."""
    parts = []
    for error in errors[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        kind = error.get("type")
        if kind == "json_invalid":
            detail = error.get("ctx", {}).get("error", "")
            parts.append(f"body is not valid JSON ({detail} at position {error['loc'][-1]})")
        elif where == "body" and kind in ("model_attributes_type", "dict_type"):
            parts.append("body must be a JSON object sent with Content-Type: application/json")
        elif kind == "extra_forbidden":
            parts.append(f"{where}: unknown field; remove it")
        else:
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def from_http_exception(exc: HTTPException, request: Request) -> ServiceError | None:
    """The domain error for Starlette's own HTTP errors; None for statuses we never raise."""
    if exc.status_code == 404:
        return NotFound(f"no route {request.method} {request.url.path}; see /docs for the API")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}; use {allowed}",
            headers=exc.headers,
        )
    if exc.status_code == 400:
        return InvalidInput(f"the request body could not be read: {exc.detail}")
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or Starlette would answer through the one table."""

    async def on_service_error(request: Request, exc: ServiceError) -> JSONBytesResponse:
        return error_response(exc, request.scope)

    async def on_validation_error(
        request: Request, exc: RequestValidationError
    ) -> JSONBytesResponse:
        return error_response(InvalidInput(validation_message(exc.errors())), request.scope)

    async def on_http_exception(request: Request, exc: HTTPException) -> JSONBytesResponse:
        error = from_http_exception(exc, request)
        if error is not None:
            return error_response(error, request.scope)
        body = {"error": str(exc.detail), "type": "http_error"}
        return JSONBytesResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_exception)
