"""GET / (the playground) and the offline /docs and /redoc: everything from this origin."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
# src= or href= pointing off this origin (a scheme or a protocol-relative //host)
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:[a-z]+:)?//""", re.IGNORECASE)


async def test_page_and_assets_are_served_from_the_package(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not EXTERNAL.search(page.text)
    for asset, kind in (("/static/app.js", "javascript"), ("/static/app.css", "text/css")):
        response = await client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]


async def test_docs_pages_load_their_assets_locally(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert not EXTERNAL.search(html), page
        for url in re.findall(r"""(?:src|href)=["']([^"']+)["']""", html):
            assert (await client.get(url)).status_code == 200, url
    assert "fonts.googleapis" not in (await client.get("/redoc")).text


async def test_page_and_assets_need_no_key_but_the_api_does(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, api_key="secret")
    async with serving(create_app(settings)) as client:
        page = await client.get("/")
        script = await client.get("/static/app.js")
        models = await client.get("/models")
    assert page.status_code == 200 and script.status_code == 200
    assert models.status_code == 401
