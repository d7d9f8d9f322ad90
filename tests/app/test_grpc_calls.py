"""A gRPC call is kept like an HTTP request: a request id (answered as the id of a ModelInfer that
sent none, and as `x-request-id` trailing metadata), an access-log line with stage timings, and
metrics of its own, on a real gRPC server."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import grpc
import pytest

from app.v2.proto import grpc_predict_v2_pb2 as pb2
from tests.app.test_grpc import grpc_stub, infer_request

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def sample(app: Any, name: str, **labels: str) -> float | None:
    return app.state.service.metrics.registry.get_sample_value(name, labels)


async def request_id_of(call: Any) -> str:
    return dict(await call.trailing_metadata())["x-request-id"]


async def test_infer_without_an_id_is_answered_with_the_generated_request_id(
    bundles_root: Path,
) -> None:
    async for stub, _ in grpc_stub(bundles_root):
        call = stub.ModelInfer(infer_request(["good"]))
        response = await call
        assert GENERATED_ID.fullmatch(response.id)
        assert await request_id_of(call) == response.id
        other = await stub.ModelInfer(infer_request(["good"]))
        assert other.id != response.id


async def test_the_callers_id_and_request_id_are_kept(bundles_root: Path) -> None:
    async for stub, _ in grpc_stub(bundles_root):
        request = infer_request(["good"])
        request.id = "client-42"
        call = stub.ModelInfer(request, metadata=(("x-request-id", "trace-7"),))
        assert (await call).id == "client-42"  # the body's id, as over HTTP
        assert await request_id_of(call) == "trace-7"
        call = stub.ModelInfer(infer_request(["good"]), metadata=(("x-request-id", "trace-8"),))
        assert (await call).id == "trace-8"
        call = stub.ModelInfer(infer_request(["good"]), metadata=(("x-request-id", "a b"),))
        assert GENERATED_ID.fullmatch((await call).id)  # not sane: a new one


async def test_an_error_carries_the_request_id(bundles_root: Path) -> None:
    async for stub, _ in grpc_stub(bundles_root):
        call = stub.ModelInfer(infer_request(["ok"], model="nope"))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert GENERATED_ID.fullmatch(dict(raised.value.trailing_metadata())["x-request-id"])


async def test_each_call_has_an_access_log_line_with_stage_timings(
    bundles_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        async for stub, _ in grpc_stub(bundles_root):
            response = await stub.ModelInfer(infer_request(["good", "bad"]))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.ModelInfer(infer_request([" "]))
    lines = [r for r in caplog.records if r.name == "app.access" and r.msg == "grpc request"]
    assert len(lines) == 2
    ok, refused = lines
    assert ok.request_id == response.id
    assert (ok.grpc_method, ok.code, ok.model) == ("ModelInfer", "OK", "tiny-en")
    assert ok.path == "/inference.GRPCInferenceService/ModelInfer"
    assert ok.duration_ms > 0 and ok.inference_ms > 0
    assert {"tokenization_ms", "queue_ms"} <= vars(ok).keys()
    assert (refused.code, refused.error_type) == ("INVALID_ARGUMENT", "invalid_input")
    assert GENERATED_ID.fullmatch(refused.request_id)


async def test_no_access_log_when_it_is_off(
    bundles_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        async for stub, _ in grpc_stub(bundles_root, access_log=False):
            await stub.ModelInfer(infer_request(["good"]))
    assert not [r for r in caplog.records if r.name == "app.access"]


async def test_calls_are_counted_in_grpc_metrics_not_http_ones(bundles_root: Path) -> None:
    async for stub, (client, _, app) in grpc_stub(bundles_root):
        await stub.ModelInfer(infer_request(["good"]))
        await stub.ModelInfer(infer_request(["good"]))
        await stub.ModelMetadata(pb2.ModelMetadataRequest(name="tiny-en"))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.ModelInfer(infer_request(["ok"], model="nope"))
        assert sample(app, "sentiment_grpc_requests_total", method="ModelInfer", code="OK") == 2
        assert (
            sample(app, "sentiment_grpc_requests_total", method="ModelInfer", code="NOT_FOUND") == 1
        )
        assert sample(app, "sentiment_grpc_requests_total", method="ModelMetadata", code="OK") == 1
        count = "sentiment_grpc_request_duration_seconds_count"
        assert sample(app, count, method="ModelInfer") == 3
        assert sample(app, "sentiment_errors_total", type="model_not_found") == 1
        exposed = (await client.get("/metrics")).text
        assert 'sentiment_grpc_requests_total{code="OK",method="ModelInfer"} 2.0' in exposed
        assert 'method="GRPC"' not in exposed and "GRPCInferenceService" not in exposed
