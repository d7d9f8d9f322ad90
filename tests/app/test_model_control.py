"""Model control: the repository routes (REST) and RepositoryModelLoad/Unload (gRPC) are refused
unless SENTIMENT_MODEL_CONTROL=true, and then take the admin key, never the API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import ValidationError

from app.core.settings import Settings
from app.main import create_app
from app.v2.proto import grpc_predict_v2_pb2 as pb2
from tests.app.conftest import make_settings, serving
from tests.app.test_grpc import grpc_stub, infer_request
from tests.support import spy_on_compare_digest

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
ADMIN_KEY = "admin-s3cret"
API_KEY = "api-s3cret"
CONTROL_ROUTES = [
    "/v2/repository/index",
    "/v2/repository/models/tiny-ko/load",
    "/v2/repository/models/tiny-ko/unload",
]
Code = grpc.StatusCode


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def control_on(model_dir: Path, **overrides: Any) -> Settings:
    return make_settings(model_dir, model_control=True, admin_key=ADMIN_KEY, **overrides)


@pytest.mark.parametrize("path", [*CONTROL_ROUTES, "/v2/repository/nope"])
async def test_every_control_route_is_refused_while_control_is_off(
    bundles_root: Path, path: str
) -> None:
    # an admin key alone does not turn control on, and no key gets past the 403
    settings = make_settings(bundles_root, admin_key=ADMIN_KEY)
    async with serving(create_app(settings)) as client:
        for headers in ({}, bearer(ADMIN_KEY)):
            refused = await client.post(path, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["type"] == "forbidden"
            assert "SENTIMENT_MODEL_CONTROL=true" in refused.json()["error"]
        names = {m["name"] for m in (await client.get("/models")).json()["models"]}
        assert names == {"tiny-en", "tiny-ko"}  # nothing was unloaded


@pytest.mark.parametrize("path", CONTROL_ROUTES)
async def test_control_routes_take_the_admin_key_only(model_dir: Path, path: str) -> None:
    async with serving(create_app(control_on(model_dir, api_key=API_KEY))) as client:
        for headers in ({}, bearer("wrong"), bearer(API_KEY), {"Authorization": ADMIN_KEY}):
            refused = await client.post(path, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["type"] == "unauthorized"
            assert "admin key" in refused.json()["error"]
            assert refused.headers["www-authenticate"] == "Bearer"
        assert (await client.post(path, headers=bearer(ADMIN_KEY))).status_code == 200


async def test_inference_needs_no_admin_key_and_the_admin_key_is_no_api_key(
    bundles_root: Path,
) -> None:
    async with serving(create_app(control_on(bundles_root, api_key=API_KEY))) as client:
        body = {"text": "good"}
        assert (await client.post("/predict", json=body, headers=bearer(API_KEY))).is_success
        assert (
            await client.post("/predict", json=body, headers=bearer(ADMIN_KEY))
        ).status_code == (401)
    async with serving(create_app(control_on(bundles_root))) as client:
        assert (await client.post("/predict", json={"text": "good"})).is_success


async def test_the_admin_key_is_compared_in_constant_time(
    bundles_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_compare_digest(monkeypatch)
    async with serving(create_app(control_on(bundles_root))) as client:
        await client.post("/v2/repository/index", headers=bearer(ADMIN_KEY))
    assert calls == [(ADMIN_KEY.encode(), ADMIN_KEY.encode())]


@pytest.mark.parametrize(
    ("overrides", "wording"),
    [
        ({"model_control": True}, "needs SENTIMENT_ADMIN_KEY"),
        ({"model_control": True, "admin_key": ""}, "needs SENTIMENT_ADMIN_KEY"),
        ({"model_control": True, "admin_key": "leaky-key", "api_key": "leaky-key"}, "must differ"),
    ],
    ids=["no-admin-key", "empty-admin-key", "admin-key-is-the-api-key"],
)
def test_control_without_its_own_key_refuses_to_start(
    bundles_root: Path, overrides: dict[str, Any], wording: str
) -> None:
    with pytest.raises(ValidationError, match=wording) as raised:
        make_settings(bundles_root, **overrides)
    assert "leaky-key" not in str(raised.value)  # no key in the message


def test_control_is_off_by_default_and_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().control_key is None
    monkeypatch.setenv("SENTIMENT_MODEL_CONTROL", "true")
    monkeypatch.setenv("SENTIMENT_ADMIN_KEY", ADMIN_KEY)
    assert Settings().control_key == ADMIN_KEY


def load(name: str) -> Any:
    return pb2.RepositoryModelLoadRequest(model_name=name)


def unload(name: str) -> Any:
    return pb2.RepositoryModelUnloadRequest(model_name=name)


async def test_grpc_control_is_refused_while_control_is_off(bundles_root: Path) -> None:
    async for stub, _ in grpc_stub(bundles_root, admin_key=ADMIN_KEY):
        metadata = (("authorization", f"Bearer {ADMIN_KEY}"),)
        for call, request in (
            (stub.RepositoryModelLoad, load),
            (stub.RepositoryModelUnload, unload),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call(request("tiny-ko"), metadata=metadata)
            assert raised.value.code() == Code.PERMISSION_DENIED
            assert "SENTIMENT_MODEL_CONTROL=true" in raised.value.details()
        assert (await stub.ModelInfer(infer_request(["ok"], model="tiny-ko"))).outputs


async def test_grpc_control_takes_the_admin_key_as_metadata(model_dir: Path) -> None:
    async for stub, _ in grpc_stub(
        model_dir, model_control=True, admin_key=ADMIN_KEY, api_key=API_KEY
    ):
        api = (("authorization", f"Bearer {API_KEY}"),)
        for metadata in ((), (("authorization", "Bearer wrong"),), api):
            for call, request in (
                (stub.RepositoryModelLoad, load),
                (stub.RepositoryModelUnload, unload),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await call(request("tiny-ko"), metadata=metadata)
                assert raised.value.code() == Code.UNAUTHENTICATED
                assert "admin key" in raised.value.details()
        admin = (("authorization", f"Bearer {ADMIN_KEY}"),)
        unloaded = await stub.RepositoryModelUnload(unload("tiny-ko"), metadata=admin)
        assert unloaded.isUnloaded and unloaded.model_name == "tiny-ko"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ModelInfer(infer_request(["ok"], model="tiny-ko"), metadata=api)
        assert raised.value.code() == Code.NOT_FOUND
        loaded = await stub.RepositoryModelLoad(load("tiny-ko"), metadata=admin)
        assert loaded.isLoaded and loaded.model_name == "tiny-ko"
        assert (await stub.ModelInfer(infer_request(["ok"], model="tiny-ko"), metadata=api)).outputs
        with pytest.raises(grpc.aio.AioRpcError) as raised:  # the default model stays
            await stub.RepositoryModelUnload(unload("tiny-en"), metadata=admin)
        assert raised.value.code() == Code.FAILED_PRECONDITION
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.RepositoryModelLoad(load("nope"), metadata=admin)
        assert raised.value.code() == Code.NOT_FOUND
