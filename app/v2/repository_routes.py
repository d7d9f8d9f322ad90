"""Model repository extension routes (v2): index, load and unload. Model control: refused with a
403 unless SENTIMENT_MODEL_CONTROL=true, and then the admin key (SENTIMENT_ADMIN_KEY) is
required, not the API key (`ModelControlMiddleware` in app/http/security.py guards the prefix).
The index is control too: it lists bundles on disk that are not served, with their versions and
why they failed, which `/models` does not show, and it reads every manifest on each call."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StrictBool

from app.http.deps import RepositoryDep
from app.http.responses import JSONBytesResponse
from app.http.schemas import error_responses
from app.ops.peers import arrived_from_peer

router = APIRouter(
    prefix="/v2/repository", tags=["model repository (v2)"], strict_content_type=False
)


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the v2 extension allows more fields
    ready: StrictBool | None = None  # true: only models that are ready; 0 or "yes" are refused


class RepositoryModel(BaseModel):
    name: str
    version: str
    state: str  # READY or UNAVAILABLE
    reason: str | None = None


@router.post(
    "/index",
    response_model=list[RepositoryModel],
    responses=error_responses(401, 403, 503),
    summary="Every bundle in the model directory, with its version and state",
)
async def index(repository: RepositoryDep, body: IndexRequest | None = None) -> JSONBytesResponse:
    ready_only = bool(body and body.ready)
    return JSONBytesResponse(repository.index(ready_only))


@router.post(
    "/models/{name}/load",
    responses=error_responses(400, 401, 403, 404, 503),
    summary="Load or replace a model from the model directory: verify, warm up, swap",
)
async def load(name: str, repository: RepositoryDep, request: Request) -> JSONBytesResponse:
    # a load another server process repeats here is done here only (app/ops/peers.py)
    worker = await repository.load(name, everywhere=not arrived_from_peer(request.scope))
    return JSONBytesResponse({"name": name, "version": worker.bundle.manifest.version})


@router.post(
    "/models/{name}/unload",
    responses=error_responses(401, 403, 404, 409, 503),
    summary="Stop serving a model; requests in flight on it finish first",
)
async def unload(name: str, repository: RepositoryDep, request: Request) -> JSONBytesResponse:
    await repository.unload(name, everywhere=not arrived_from_peer(request.scope))
    return JSONBytesResponse({"name": name, "unloaded": True})
