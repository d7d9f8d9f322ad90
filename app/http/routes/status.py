"""Operations routes: liveness, readiness, loaded models, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from app.core.errors import NotReady
from app.http.deps import ServiceDep
from app.http.responses import JSONBytesResponse
from app.http.schemas import ModelsResponse, Readiness, Status, error_responses

router = APIRouter(tags=["operations"])
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/health", response_model=Status, summary="Liveness: 200 while the process serves")
async def health() -> JSONBytesResponse:
    return JSONBytesResponse({"status": "ok"})


@router.get(
    "/ready",
    response_model=Readiness,
    responses=error_responses(503),
    summary="Readiness: 200 once every model is loaded, verified and warm; 503 while draining",
)
async def ready(service: ServiceDep) -> JSONBytesResponse:
    if not service.ready:
        raise NotReady(f"not ready: {service.not_ready_reason()}")
    versions = {n: m.bundle.manifest.version for n, m in service.loaded().models.items()}
    return JSONBytesResponse({"status": "ready", "models": versions})


@router.get(
    "/models",
    response_model=ModelsResponse,
    responses=error_responses(401, 503),
    summary="Loaded models: manifest, labels, version, metrics, provider, variant, threads",
)
async def models(service: ServiceDep) -> JSONBytesResponse:
    registry = service.loaded()
    return JSONBytesResponse(
        {
            "default": registry.default,
            "models": [m.describe() for m in registry.models.values()],
            "failed": registry.failed,
        }
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {PROMETHEUS_TYPE: {}}, "description": "Prometheus text format"},
        **error_responses(401),
    },
    summary="Prometheus metrics",
)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type=PROMETHEUS_TYPE)
