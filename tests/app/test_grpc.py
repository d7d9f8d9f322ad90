"""The KServe v2 gRPC service and gRPC health, served from the app's lifespan on a free port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from app.core.errors import ERROR_TABLE, DeadlineExceeded, NotReady, QueueFull
from app.main import create_app
from app.v2.grpc_service import GRPC_CODES, grpc_code
from app.v2.proto import grpc_predict_v2_pb2 as pb2
from app.v2.proto import grpc_predict_v2_pb2_grpc as pb2_grpc
from app.v2.tensor_codec import decode_bytes_tensor, encode_bytes_tensor
from tests.app.conftest import make_settings, serving
from tests.support import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
Stub = pb2_grpc.GRPCInferenceServiceStub
TEXTS = ["a wonderful film", "dull and much too long"]


async def grpc_stub(bundles_root: Path, **overrides: Any) -> AsyncIterator[tuple[Stub, Any]]:
    port = free_port()
    settings = make_settings(bundles_root, grpc_enabled=True, grpc_port=port, **overrides)
    app = create_app(settings)
    async with serving(app) as client, grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Stub(channel), (client, channel, app)


@pytest.fixture
async def stub(bundles_root: Path) -> AsyncIterator[Stub]:
    async for found, _ in grpc_stub(bundles_root):
        yield found


def text_input(texts: list[str], raw: bool) -> tuple[Any, list[bytes]]:
    tensor = pb2.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[len(texts)]
    )
    if raw:
        return tensor, [encode_bytes_tensor(texts)]
    tensor.contents.bytes_contents.extend(t.encode() for t in texts)
    return tensor, []


def infer_request(texts: list[str], raw: bool = True, model: str = "tiny-en") -> Any:
    tensor, contents = text_input(texts, raw)
    return pb2.ModelInferRequest(model_name=model, inputs=[tensor], raw_input_contents=contents)


async def test_live_ready_and_metadata(stub: Stub) -> None:
    assert (await stub.ServerLive(pb2.ServerLiveRequest())).live
    assert (await stub.ServerReady(pb2.ServerReadyRequest())).ready
    assert (await stub.ModelReady(pb2.ModelReadyRequest(name="tiny-ko"))).ready
    server = await stub.ServerMetadata(pb2.ServerMetadataRequest())
    assert "binary_tensor_data" in server.extensions
    model = await stub.ModelMetadata(pb2.ModelMetadataRequest(name="tiny-en"))
    assert [t.name for t in model.outputs] == ["probabilities", "label"]
    assert list(model.outputs[0].shape) == [-1, 3]  # negative, neutral, positive


@pytest.mark.parametrize("raw", [True, False], ids=["raw_input_contents", "bytes_contents"])
async def test_infer_answers_raw_outputs(stub: Stub, raw: bool) -> None:
    response = await stub.ModelInfer(infer_request(TEXTS, raw))
    assert [o.name for o in response.outputs] == ["probabilities", "label"]
    assert list(response.outputs[0].shape) == [2, 3] and response.model_version == "1.0.0"
    labels = decode_bytes_tensor(response.raw_output_contents[1])
    assert len(labels) == 2 and set(labels) <= {b"negative", b"neutral", b"positive"}
    assert len(response.raw_output_contents[0]) == 2 * 3 * 4


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (infer_request(["ok"], model="nope"), grpc.StatusCode.NOT_FOUND),
        (infer_request([]), grpc.StatusCode.INVALID_ARGUMENT),
        (infer_request([" "]), grpc.StatusCode.INVALID_ARGUMENT),
        (
            pb2.ModelInferRequest(
                model_name="tiny-en",
                inputs=[text_input(["a"], raw=False)[0]],
                raw_input_contents=[b"\x09\x00\x00\x00a"],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
    ids=["unknown-model", "empty", "blank", "overrun"],
)
async def test_errors_have_their_codes(stub: Stub, request_: Any, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ModelInfer(request_)
    assert raised.value.code() == code and raised.value.details()


async def test_api_key_as_authorization_metadata(bundles_root: Path) -> None:
    async for stub, _ in grpc_stub(bundles_root, api_key="s3cret"):
        assert (await stub.ServerReady(pb2.ServerReadyRequest())).ready  # probes stay open
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ModelInfer(infer_request(["ok"]))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        metadata = (("authorization", "Bearer s3cret"),)
        assert (await stub.ModelInfer(infer_request(["ok"]), metadata=metadata)).outputs


async def wait_for_health(channel: Any, service: str, status: int) -> None:
    """Watch the standard health service until it reports `status` for `service`."""
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=service)
    )
    with anyio.fail_after(5):
        async for update in watch:
            if update.status == status:
                break
    watch.cancel()


async def test_health_follows_readiness(bundles_root: Path) -> None:
    serving_, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    async for _stub, (_client, channel, app) in grpc_stub(bundles_root):
        await wait_for_health(channel, "inference.GRPCInferenceService", serving_)
        app.state.service.start_draining()
        await wait_for_health(channel, "", not_serving)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"max_queue": 1}, grpc.StatusCode.RESOURCE_EXHAUSTED),  # two texts for a queue of one
        ({"request_timeout_s": 1e-6}, grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
    ids=["queue-full", "deadline"],
)
async def test_overload_codes(
    bundles_root: Path, overrides: dict[str, Any], code: grpc.StatusCode
) -> None:
    async for stub, _ in grpc_stub(bundles_root, **overrides):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ModelInfer(infer_request(["one", "two"]))
        assert raised.value.code() == code


def test_stubs_match_the_published_protocol() -> None:
    """The descriptor is the one kserve's package registers (so both can share a process).
    kserve comes with the `dev` extra; the unit tier may run with `serve` alone."""
    pytest.importorskip("kserve")
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as published

    assert pb2.DESCRIPTOR.serialized_pb == published.DESCRIPTOR.serialized_pb


def test_codes_follow_the_error_table() -> None:
    assert grpc_code(QueueFull("x")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_code(DeadlineExceeded("x")) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert grpc_code(NotReady("x")) == grpc.StatusCode.UNAVAILABLE
    assert grpc_code(ValueError("x")) == grpc.StatusCode.INTERNAL
    statuses = {status for status, _ in ERROR_TABLE.values()}
    assert statuses - {500} <= set(GRPC_CODES)


async def test_sentences_parameter_adds_the_sentences_output(stub: Stub) -> None:
    request = infer_request(["Great acting. Awful plot!"])
    request.parameters["sentences"].bool_param = True
    response = await stub.ModelInfer(request)
    assert [o.name for o in response.outputs] == ["probabilities", "label", "sentences"]
    (document,) = decode_bytes_tensor(response.raw_output_contents[2])
    assert len(json.loads(document)["sentences"]) == 2
