"""Optional API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.app.conftest import make_settings, serving
from tests.support import spy_on_compare_digest

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
KEY = "s3cret-key"
AUTH = {"authorization": f"Bearer {KEY}"}


@pytest.fixture
async def keyed(bundles_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(make_settings(bundles_root, api_key=KEY))) as client:
        yield client


@pytest.mark.parametrize("path", ["/health", "/ready", "/v2/health/live", "/v2/health/ready"])
async def test_probes_need_no_key(keyed: httpx.AsyncClient, path: str) -> None:
    assert (await keyed.get(path)).status_code == 200


@pytest.mark.parametrize("path", ["/models", "/docs", "/openapi.json", "/v2", "/v2/models/tiny-en"])
async def test_other_routes_need_the_key(keyed: httpx.AsyncClient, path: str) -> None:
    refused = await keyed.get(path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["type"] == "unauthorized"
    assert (await keyed.get(path, headers=AUTH)).status_code == 200


async def test_predict_with_and_without_key(keyed: httpx.AsyncClient) -> None:
    body = {"text": "good"}
    assert (await keyed.post("/predict", json=body)).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert (await keyed.post("/predict", json=body, headers=wrong)).status_code == 401
    basic = {"authorization": f"Basic {KEY}"}
    assert (await keyed.post("/predict", json=body, headers=basic)).status_code == 401
    assert (await keyed.post("/predict", json=body, headers=AUTH)).status_code == 200


async def test_unknown_route_is_401_not_404_without_key(keyed: httpx.AsyncClient) -> None:
    assert (await keyed.get("/nope")).status_code == 401


async def test_metrics_open_by_default(keyed: httpx.AsyncClient) -> None:
    assert (await keyed.get("/metrics")).status_code == 200


async def test_metrics_can_require_the_key(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, api_key=KEY, metrics_require_key=True)
    async with serving(create_app(settings)) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=AUTH)).status_code == 200


async def test_key_is_compared_in_constant_time(
    keyed: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_compare_digest(monkeypatch)
    await keyed.get("/models", headers=AUTH)
    assert calls == [(KEY.encode(), KEY.encode())]


async def test_without_a_key_everything_is_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/models")).status_code == 200


async def test_openapi_declares_bearer_auth(keyed: httpx.AsyncClient) -> None:
    schema = (await keyed.get("/openapi.json", headers=AUTH)).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/predict"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]
    assert "security" not in schema["paths"]["/metrics"]["get"]
