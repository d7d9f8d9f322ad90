"""Operations routes: liveness, readiness, loaded models, Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.errors import NotReady
from app.http.deps import ServiceDep
from app.http.responses import JSONBytesResponse
from app.http.schemas import ModelsResponse, Readiness, Status, error_responses
from app.ops.metrics_merge import merge_pages
from app.ops.peers import PeerAnswer, Peers, arrived_from_peer, others_not_ready

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
async def ready(service: ServiceDep, request: Request) -> JSONBytesResponse:
    if not service.ready:
        raise NotReady(f"not ready: {service.not_ready_reason()}")
    await require_every_process_ready(request)
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
async def metrics(service: ServiceDep, request: Request) -> Response:
    page = service.metrics.render()
    peers = peers_to_ask(request)
    if peers is not None:
        page = merge_pages(await every_page(peers, page, request.headers.get("authorization")))
    return Response(page, media_type=PROMETHEUS_TYPE)


def peers_to_ask(request: Request) -> Peers | None:
    """The other server processes, when this request must span them: None with one process,
    and for a request another process sent (it answers for itself alone)."""
    peers: Peers | None = request.app.state.peers
    return None if peers is None or arrived_from_peer(request.scope) else peers


def forwarded(authorization: str | None) -> dict[str, str]:
    return {} if authorization is None else {"Authorization": authorization}


async def require_every_process_ready(request: Request) -> None:
    """With several server processes, ready means every one is: a request may reach any of
    them. A process asked by another answers for itself."""
    peers = peers_to_ask(request)
    if peers is not None:
        await require_others_ready(peers, request.headers.get("authorization"))


async def require_others_ready(peers: Peers, authorization: str | None) -> None:
    reason = await others_not_ready(peers, forwarded(authorization))
    if reason is not None:
        raise NotReady(f"not ready: {reason}")


async def every_page(
    peers: Peers, own: bytes, authorization: str | None
) -> list[tuple[int, bytes]]:
    """(process index, its Prometheus page) for every process; a process that cannot be asked
    is left out of this scrape (its series go stale) rather than failing the whole page."""
    headers = forwarded(authorization)
    answers = await asyncio.gather(
        *(peers.ask(i, "GET", "/metrics", headers) for i in peers.others), return_exceptions=True
    )
    pages = [(a.index, a.body) for a in answers if isinstance(a, PeerAnswer) and a.status == 200]
    return sorted([(peers.index, own), *pages])
