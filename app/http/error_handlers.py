"""Every error FastAPI, Starlette or a route answers, in the one body shape
`{"error": "<message>", "type": "<kind>"}`, through the domain table (`app.core.errors`):
domain errors, FastAPI's validation errors, Starlette's 404/405, body limits, auth, and
unexpected exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.core.context import context_of
from app.core.errors import (
    INTERNAL_MESSAGE,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    status_and_type,
)
from app.http.responses import JSONBytesResponse


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


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette's own 405 names only the first
    route's (`/` has the playground's GET and /predict's POST)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]
    return ", ".join(allowed)


def from_http_exception(exc: HTTPException, request: Request) -> ServiceError | None:
    """The domain error for Starlette's own HTTP errors; None for statuses we never raise."""
    if exc.status_code == 404:
        return NotFound(f"no route {request.method} {request.url.path}; see /docs for the API")
    if exc.status_code == 405:
        allowed = allowed_methods(request) or (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}; use {allowed}",
            headers={**(exc.headers or {}), "Allow": allowed},
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
