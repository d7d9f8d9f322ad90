"""Open Inference Protocol (KServe v2) REST routes, so KServe and Triton clients work as is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.context import RequestContext
from app.core.errors import NotReady
from app.core.service import Service
from app.core.waiting import wait_for_client_gone
from app.http.deps import ContextDep, ServiceDep
from app.http.responses import JSONBytesResponse
from app.http.routes.status import require_every_process_ready
from app.http.schemas import error_responses
from app.v2 import infer as v2_infer
from app.v2.infer import binary_outputs, with_binary_inputs
from app.v2.messages import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ModelReady,
    ServerLive,
    ServerMetadata,
    ServerReady,
)
from app.v2.openinference import check_version, model_metadata
from app.v2.rest_binary import BinaryTensorRoute, binary_tail, v2_response

router = APIRouter(
    prefix="/v2",
    tags=["open inference protocol (v2)"],
    strict_content_type=False,
    route_class=BinaryTensorRoute,
)


@router.get("", response_model=ServerMetadata, summary="Server metadata")
async def server_metadata() -> JSONBytesResponse:
    return JSONBytesResponse(v2_infer.server_metadata())


@router.get("/health/live", response_model=ServerLive, summary="Server live")
async def live() -> JSONBytesResponse:
    return JSONBytesResponse({"live": True})


@router.get(
    "/health/ready",
    response_model=ServerReady,
    responses=error_responses(503),
    summary="Server ready: every model loaded and warm, not draining",
)
async def server_ready(service: ServiceDep, request: Request) -> JSONBytesResponse:
    if not service.ready:
        raise NotReady(f"not ready: {service.not_ready_reason()}")
    await require_every_process_ready(request)
    return JSONBytesResponse({"ready": True})


def _metadata(service: Service, name: str, version: str | None) -> JSONBytesResponse:
    model = service.model(name)
    check_version(model, version)
    return JSONBytesResponse(model_metadata(model))


@router.get(
    "/models/{name}",
    response_model=ModelMetadata,
    responses=error_responses(401, 404, 503),
    summary="Model metadata",
)
async def metadata(name: str, service: ServiceDep) -> JSONBytesResponse:
    return _metadata(service, name, None)


@router.get(
    "/models/{name}/versions/{version}",
    response_model=ModelMetadata,
    responses=error_responses(401, 404, 503),
    summary="Model metadata, one version",
)
async def metadata_version(name: str, version: str, service: ServiceDep) -> JSONBytesResponse:
    return _metadata(service, name, version)


def _ready(service: Service, name: str, version: str | None) -> JSONBytesResponse:
    model = service.model(name)
    check_version(model, version)
    if not service.ready:
        raise NotReady(f"model {name!r} is not ready: {service.not_ready_reason()}")
    return JSONBytesResponse({"name": model.name, "ready": True})


@router.get(
    "/models/{name}/ready",
    response_model=ModelReady,
    responses=error_responses(401, 404, 503),
    summary="Model ready",
)
async def model_ready(name: str, service: ServiceDep) -> JSONBytesResponse:
    return _ready(service, name, None)


@router.get(
    "/models/{name}/versions/{version}/ready",
    response_model=ModelReady,
    responses=error_responses(401, 404, 503),
    summary="Model ready, one version",
)
async def model_version_ready(name: str, version: str, service: ServiceDep) -> JSONBytesResponse:
    return _ready(service, name, version)


async def _infer(
    body: InferenceRequest,
    request: Request,
    service: Service,
    context: RequestContext,
    version: str | None,
) -> Response:
    body = with_binary_inputs(body, binary_tail(request))
    binary = binary_outputs(body)
    result = await v2_infer.infer(
        service,
        body,
        context.model or "",
        version,
        context.request_id,
        lambda: wait_for_client_gone(request.receive),
    )
    context.times = result.times
    return v2_response(result.answer, binary, result.times.headers())


INFER_ERRORS = error_responses(400, 401, 404, 413, 422, 429, 503, 504)
BINARY_BODY = {
    "description": "JSON, or with the binary tensor data extension the JSON header "
    "(Inference-Header-Content-Length bytes) followed by the binary tensors",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post(
    "/models/{name}/infer",
    response_model=InferenceResponse,
    responses={**INFER_ERRORS, 200: BINARY_BODY},
    summary="Inference: BYTES texts in; FP32 probabilities and BYTES labels out",
)
async def infer(
    name: str, body: InferenceRequest, request: Request, service: ServiceDep, context: ContextDep
) -> Response:
    context.model = name
    return await _infer(body, request, service, context, None)


@router.post(
    "/models/{name}/versions/{version}/infer",
    response_model=InferenceResponse,
    responses={**INFER_ERRORS, 200: BINARY_BODY},
    summary="Inference on one model version",
)
async def infer_version(
    name: str,
    version: str,
    body: InferenceRequest,
    request: Request,
    service: ServiceDep,
    context: ContextDep,
) -> Response:
    context.model = name
    return await _infer(body, request, service, context, version)
