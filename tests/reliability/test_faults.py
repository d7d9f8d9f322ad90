"""Faults at run time: a batch whose inference fails gets a 500, and the service goes on."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from tests.reliability.faulty import faulty_bundle
from tests.support import server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(120)]
FIVE = ["one good film", "a bad one", "fine", "great acting", "dull"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def models_with_a_faulty_one(bundles_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(bundles_root, folder)
    faulty_bundle(bundles_root / "tiny-en", folder / "broken-en", limit=4)
    return folder


async def test_failed_batch_is_a_500_and_the_next_batch_is_served(
    models_with_a_faulty_one: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with server(models_with_a_faulty_one, log, SENTIMENT_MAX_BATCH_SIZE="8") as (_, url):
        await wait_until(f"{url}/ready", 200)  # warm-up (batches of 1 and 4) passes
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            failed = await client.post(
                "/predict",
                json={"texts": FIVE, "model": "broken-en"},
                headers={"x-request-id": "fault-1"},
            )
            after = await client.post("/predict", json={"text": "good", "model": "broken-en"})
            other = await client.post("/predict", json={"texts": FIVE})
            ready = await client.get("/ready")
    assert failed.status_code == 500
    assert failed.json()["type"] == "internal" and "Gather" not in failed.text
    assert (after.status_code, other.status_code, ready.status_code) == (200, 200, 200)
    logged = log.read_text()
    assert "fault-1" in logged and "out of data bounds" in logged  # the details stay in the log


async def test_concurrent_requests_batched_with_a_failure_fail_together_only(
    models_with_a_faulty_one: Path, tmp_path: Path
) -> None:
    with server(models_with_a_faulty_one, tmp_path / "server.log") as (_, url):
        await wait_until(f"{url}/ready", 200)
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            requests = [
                client.post("/predict", json={"texts": FIVE, "model": "broken-en"}),
                *(client.post("/predict", json={"text": t, "model": "tiny-en"}) for t in FIVE),
            ]
            answers = await asyncio.gather(*requests)
    assert answers[0].status_code == 500
    assert all(a.status_code == 200 for a in answers[1:])  # another model's batches are unharmed
