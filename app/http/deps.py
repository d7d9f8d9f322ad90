"""Named dependencies. All are `async def`: FastAPI runs plain `def` ones in a thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.context import CONTEXT_KEY, RequestContext
from app.core.repository import Repository
from app.core.service import Service


async def get_service(request: Request) -> Service:
    return request.app.state.service


async def get_repository(request: Request) -> Repository:
    return request.app.state.repository


async def get_context(request: Request) -> RequestContext:
    return request.scope[CONTEXT_KEY]


ServiceDep = Annotated[Service, Depends(get_service)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
RepositoryDep = Annotated[Repository, Depends(get_repository)]
