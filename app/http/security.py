"""Optional API key: `Authorization: Bearer <key>` on every route except the probes; and model
control: the `/v2/repository` routes, refused (403) unless SENTIMENT_MODEL_CONTROL=true, and then
guarded by their own key, SENTIMENT_ADMIN_KEY, instead of the API key.

Keys are compared with `hmac.compare_digest`, whose time does not depend on where the first
differing byte is, so response times do not leak a key.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import Forbidden, Unauthorized
from app.http.error_handlers import error_response
from app.http.middleware import header

PROBES = frozenset({"/health", "/ready", "/v2/health/live", "/v2/health/ready"})
# static files that hold no data: the playground page (it asks for the key) and docs assets
PUBLIC_PAGES = frozenset({"/"})
PUBLIC_PREFIXES = ("/static/", "/docs-assets/")
CONTROL_PATH = "/v2/repository"  # index, load, unload: the admin key's, never the API key's
CONTROL_OFF = (
    "model control is off on this server: the model repository (index, load, unload) is "
    "refused to every caller. Start the server with SENTIMENT_MODEL_CONTROL=true and "
    "SENTIMENT_ADMIN_KEY set to enable it"
)


def bearer_token(value: bytes | None) -> bytes | None:
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" and token.strip() else None


def key_matches(given: bytes | None, key: bytes) -> bool:
    return given is not None and hmac.compare_digest(given, key)


def is_control(path: str) -> bool:
    return path == CONTROL_PATH or path.startswith(f"{CONTROL_PATH}/")


def authorize_control(admin_key: bytes | None, token: bytes | None, how: str) -> None:
    """Raise `Forbidden` when model control is off (`admin_key` None), `Unauthorized` when
    `token` is not the admin key; `how` tells the caller how to send it."""
    if admin_key is None:
        raise Forbidden(CONTROL_OFF)
    if not key_matches(token, admin_key):
        raise Unauthorized(
            f"missing or wrong admin key; model control needs {how} "
            "(SENTIMENT_ADMIN_KEY, not the API key)",
            headers={"WWW-Authenticate": "Bearer"},
        )


class ModelControlMiddleware:
    """Guards every path under /v2/repository, known or not, before any route runs."""

    def __init__(self, app: ASGIApp, admin_key: str | None) -> None:
        self.app = app
        self.key = admin_key.encode() if admin_key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_control(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = bearer_token(header(scope, b"authorization"))
        try:
            authorize_control(self.key, token, "the header `Authorization: Bearer <admin key>`")
        except (Forbidden, Unauthorized) as error:
            await error_response(error, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, protect_metrics: bool) -> None:
        self.app = app
        self.key = api_key.encode()
        self.open_paths = open_paths(protect_metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # control paths take the admin key instead (ModelControlMiddleware)
        path = scope.get("path", "")
        if scope["type"] != "http" or is_open(path, self.open_paths) or is_control(path):
            await self.app(scope, receive, send)
            return
        if key_matches(bearer_token(header(scope, b"authorization")), self.key):
            await self.app(scope, receive, send)
            return
        error = Unauthorized(
            "missing or wrong API key; send the header `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await error_response(error, scope)(scope, receive, send)


def is_open(path: str, open_paths: frozenset[str]) -> bool:
    return path in open_paths or path.startswith(PUBLIC_PREFIXES)


def open_paths(protect_metrics: bool) -> frozenset[str]:
    open_ = PROBES | PUBLIC_PAGES
    return open_ if protect_metrics else open_ | {"/metrics"}


def document_bearer_auth(app: FastAPI, protect_metrics: bool) -> None:
    """Tell OpenAPI (and /docs' Authorize button) which routes need a bearer key."""
    unprotected = open_paths(protect_metrics)

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = document.setdefault("components", {})
            components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            for path, operations in document["paths"].items():
                if path not in unprotected:
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema
