"""App test fixtures: settings pointing at the session's real tiny bundles, and a running app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.main import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_sentiment_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("SENTIMENT_") and name != "SENTIMENT_DATA_DIR":
            monkeypatch.delenv(name)


_SESSIONS: dict[tuple, Any] = {}


@pytest.fixture(autouse=True)
def _shared_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build hundreds of apps on the same few graph files: each unchanged file gets one
    real ORT session, shared by every app (creating one costs ~70 ms, running a tiny graph
    microseconds), and each unchanged tokenizer file one real encoder. A copied or altered file
    has another path or mtime, so its own session and encoder."""
    from app.core import registry

    for name in ("open_session", "open_encoder"):  # an encoder costs ~3.5 ms to build
        monkeypatch.setattr(registry, name, _shared(name, getattr(registry, name)))


def _shared(name: str, real: Any) -> Any:
    """`real(path, *args)`, built once per (file, its mtime, args) for the whole session."""

    def shared(path: Path, *args: Any) -> Any:
        key = (name, str(path), path.stat().st_mtime_ns, *args)
        if key not in _SESSIONS:
            _SESSIONS[key] = real(path, *args)
        return _SESSIONS[key]

    return shared


def make_settings(model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "default_model": "tiny-en",
        "drain_seconds": 0,
        "log_level": "WARNING",
        "grpc_enabled": False,  # tests that want gRPC turn it on, on a free port
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def serving(app: FastAPI, wait_loaded: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (models load in the background) and give a client for it."""
    async with app.router.lifespan_context(app):
        if wait_loaded:
            with anyio.fail_after(30):
                await app.state.service.load_finished.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def settings(bundles_root: Path) -> Settings:
    return make_settings(bundles_root)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings)) as client:
        yield client
