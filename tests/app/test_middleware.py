"""Request ids, the body limit (with and without Content-Length) and CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"x-request-id": "my-id-123"})
    assert response.headers["x-request-id"] == "my-id-123"


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert first and second and first != second


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "tab\there", "é"])
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health", headers={"x-request-id": bad.encode("utf-8")})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_errors_carry_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope", headers={"x-request-id": "trace-me"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-me"
    assert response.json() == {
        "error": "no route GET /nope; see /docs for the API",
        "type": "not_found",
    }


async def test_wrong_method_is_405_in_the_one_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/predict")
    assert response.status_code == 405
    assert response.json()["type"] == "method_not_allowed"
    assert "POST" in response.json()["error"]


@pytest.fixture
async def small_body(bundles_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(make_settings(bundles_root, max_body_bytes=100))) as client:
        yield client


async def test_body_over_limit_with_content_length_is_413(small_body: httpx.AsyncClient) -> None:
    response = await small_body.post("/predict", json={"text": "x" * 200})
    assert response.status_code == 413
    assert "100 bytes" in response.json()["error"]


async def test_body_over_limit_without_content_length_is_413(
    small_body: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 20
        yield b'"}'

    response = await small_body.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_chunked_body_under_limit_is_served(small_body: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": '
        yield b'"good"}'

    response = await small_body.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"origin": "https://example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_configured_origins(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, cors_origins="https://example.com", api_key="k")
    async with serving(create_app(settings)) as client:
        preflight = await client.options(
            "/predict",
            headers={"origin": "https://example.com", "access-control-request-method": "POST"},
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://example.com"
