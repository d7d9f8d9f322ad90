"""The model repository extension: index, load (verify, warm, swap) and unload while serving.
Model control is on here, with an admin key (tests/app/test_model_control.py: when it is off)."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import weakref
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import Settings
from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
INFER = "/v2/models/tiny-en/infer"
BODY = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["good", "bad"]}]}
ADMIN_KEY = "admin-s3cret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def control_settings(model_dir: Path, **overrides: Any) -> Settings:
    return make_settings(model_dir, model_control=True, admin_key=ADMIN_KEY, **overrides)


def new_version(model_dir: Path, name: str, version: str) -> None:
    """Replace the bundle folder by a copy whose manifest says `version` (the manifest is not
    among the hashed files), the way a deploy would: staged, then renamed into place."""
    folder = model_dir / name
    staged = model_dir / f".{name}-{version}"
    shutil.copytree(folder, staged)
    manifest = json.loads((staged / "manifest.json").read_text())
    manifest["version"] = version
    (staged / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(folder)
    staged.rename(folder)


async def test_index_lists_every_bundle_with_its_version_and_state(model_dir: Path) -> None:
    async with serving(create_app(control_settings(model_dir, models=["tiny-en"]))) as client:
        index = (await client.post("/v2/repository/index", headers=ADMIN)).json()
        states = {m["name"]: (m["version"], m["state"]) for m in index}
        assert states == {"tiny-en": ("1.0.0", "READY"), "tiny-ko": ("1.0.0", "UNAVAILABLE")}
        ready = (
            await client.post("/v2/repository/index", json={"ready": True}, headers=ADMIN)
        ).json()
        assert [m["name"] for m in ready] == ["tiny-en"]
        assert "model_repository" in (await client.get("/v2")).json()["extensions"]


async def test_load_swaps_in_a_new_version_under_load_without_a_failed_request(
    model_dir: Path,
) -> None:
    app = create_app(control_settings(model_dir))
    async with serving(app) as client:
        versions: list[str] = []
        statuses: list[int] = []
        stop = asyncio.Event()

        async def traffic() -> None:
            for _ in range(5000):  # bounded; the swap ends it first
                response = await client.post(INFER, json=BODY)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    versions.append(response.json()["model_version"])
                if stop.is_set():
                    return

        callers = [asyncio.create_task(traffic()) for _ in range(8)]
        await asyncio.sleep(0.2)
        new_version(model_dir, "tiny-en", "1.1.0")
        loaded = await client.post("/v2/repository/models/tiny-en/load", headers=ADMIN)
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*callers)
        assert loaded.status_code == 200, loaded.text
        assert loaded.json() == {"name": "tiny-en", "version": "1.1.0"}
        assert set(statuses) == {200}, (
            f"{len(statuses) - statuses.count(200)} failed requests: {sorted(set(statuses))}"
        )
        assert versions[0] == "1.0.0" and versions[-1] == "1.1.0"
        assert versions == sorted(versions)  # once switched, never back
        assert (await client.get("/ready")).json()["models"]["tiny-en"] == "1.1.0"
        assert (await client.get("/v2/models/tiny-en")).json()["versions"] == ["1.1.0"]
        await app.state.repository.wait_retired()  # the old version drained and stopped


async def test_a_bundle_that_fails_verification_is_refused_and_the_old_one_serves(
    model_dir: Path,
) -> None:
    async with serving(create_app(control_settings(model_dir))) as client:
        graph = model_dir / "tiny-en" / "model.onnx"
        graph.write_bytes(graph.read_bytes()[:-16])  # truncated on disk
        refused = await client.post("/v2/repository/models/tiny-en/load", headers=ADMIN)
        assert refused.status_code == 400
        assert refused.json()["type"] == "bundle_rejected"
        assert "model.onnx" in refused.json()["error"]
        assert "keeps serving" in refused.json()["error"]
        assert (await client.post(INFER, json=BODY)).status_code == 200
        assert (await client.get("/ready")).json()["models"]["tiny-en"] == "1.0.0"


async def test_unload_stops_serving_a_model_but_never_the_default(model_dir: Path) -> None:
    async with serving(create_app(control_settings(model_dir))) as client:
        assert (
            await client.post("/v2/repository/models/tiny-ko/unload", headers=ADMIN)
        ).status_code == 200
        names = [m["name"] for m in (await client.get("/models")).json()["models"]]
        assert names == ["tiny-en"]
        gone = await client.post("/predict", json={"text": "좋아요", "model": "tiny-ko"})
        assert gone.status_code == 404
        default = await client.post("/v2/repository/models/tiny-en/unload", headers=ADMIN)
        assert default.status_code == 409 and "default model" in default.json()["error"]
        again = await client.post("/v2/repository/models/tiny-ko/load", headers=ADMIN)
        assert again.status_code == 200
        assert (
            await client.post("/predict", json={"text": "좋아요", "model": "tiny-ko"})
        ).is_success


async def test_unknown_names_and_the_keys(model_dir: Path) -> None:
    async with serving(create_app(control_settings(model_dir, api_key="k"))) as client:
        assert (await client.post("/v2/repository/index")).status_code == 401
        auth = {"Authorization": "Bearer k"}  # the API key is not the admin key
        assert (await client.post("/v2/repository/index", headers=auth)).status_code == 401
        missing = await client.post("/v2/repository/models/nope/load", headers=ADMIN)
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        assert (await client.post("/v2/repository/index", headers=ADMIN)).status_code == 200


async def test_an_explanation_holds_its_model_until_it_is_answered(model_dir: Path) -> None:
    # a replaced worker stops once no request uses it; /explain scores each text in its own
    # submission, so it must count as using the worker from the first to the last
    app = create_app(control_settings(model_dir))
    async with serving(app) as client:
        worker = app.state.service.loaded().models["tiny-en"]
        texts = ["a slow, dull and overlong film with a moving last act"] * 4
        explaining = asyncio.create_task(client.post("/explain", json={"texts": texts}))
        seen = set()
        while not explaining.done():
            seen.add(worker.in_flight)
            await asyncio.sleep(0)
        assert (await explaining).status_code == 200
        assert 1 in seen and worker.in_flight == 0


async def test_a_replaced_version_is_freed_once_retired(model_dir: Path) -> None:
    # a worker sits in reference cycles: without the collection at retirement its sessions
    # stayed resident until a rare full collection (~40 MB per load of the shipped English model)
    app = create_app(control_settings(model_dir))
    async with serving(app) as client:
        old = weakref.ref(app.state.service.registry.models["tiny-en"])
        gc.disable()  # only the retirement may collect it
        try:
            new_version(model_dir, "tiny-en", "1.1.0")
            loaded = await client.post("/v2/repository/models/tiny-en/load", headers=ADMIN)
            assert loaded.status_code == 200
            await app.state.repository.wait_retired()
            assert old() is None
        finally:
            gc.enable()


async def test_the_collector_is_given_back_the_startup_models_once_one_is_retired(
    model_dir: Path,
) -> None:
    """Startup freezes what is alive (the collector skips it); a retired worker's cycles must
    still be freed, so retiring one unfreezes."""
    app = create_app(control_settings(model_dir))
    async with serving(app) as client:
        assert gc.get_freeze_count() > 0
        unloaded = await client.post("/v2/repository/models/tiny-ko/unload", headers=ADMIN)
        assert unloaded.status_code == 200
        await app.state.repository.wait_retired()
        assert gc.get_freeze_count() == 0


def served_versions(metrics_text: str, name: str) -> list[str]:
    """The versions `sentiment_model_info` shows for model `name`."""
    versions = []
    for line in metrics_text.splitlines():
        if line.startswith("sentiment_model_info{") and f'name="{name}"' in line:
            versions.append(line.split('version="')[1].split('"')[0])
    return versions


async def test_model_info_follows_loads_and_unloads(model_dir: Path) -> None:
    async with serving(create_app(control_settings(model_dir))) as client:
        assert served_versions((await client.get("/metrics")).text, "tiny-en") == ["1.0.0"]
        new_version(model_dir, "tiny-en", "1.1.0")
        loaded = await client.post("/v2/repository/models/tiny-en/load", headers=ADMIN)
        assert loaded.status_code == 200
        assert served_versions((await client.get("/metrics")).text, "tiny-en") == ["1.1.0"]
        again = await client.post("/v2/repository/models/tiny-en/load", headers=ADMIN)
        assert again.status_code == 200  # the same version again keeps its one series
        assert served_versions((await client.get("/metrics")).text, "tiny-en") == ["1.1.0"]
        unloaded = await client.post("/v2/repository/models/tiny-ko/unload", headers=ADMIN)
        assert unloaded.status_code == 200
        assert served_versions((await client.get("/metrics")).text, "tiny-ko") == []
