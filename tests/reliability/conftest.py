"""A real `python -m app` process on the session's tiny bundles, shared by the reliability tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import server, wait_until

# model control is on, so that the schema fuzzing's stateful phase loads and unloads models
ADMIN_KEY = "reliability-admin-key"


@pytest.fixture(scope="module")
def live_url(bundles_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    control = {"SENTIMENT_MODEL_CONTROL": "true", "SENTIMENT_ADMIN_KEY": ADMIN_KEY}
    with server(bundles_root, log, SENTIMENT_MAX_QUEUE="64", **control) as (_, url):
        asyncio.run(wait_until(f"{url}/ready", 200))
        yield url
