"""`create_app()`: settings, logging, service state, middleware, error handlers and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app import __version__
from app.core.repository import Repository
from app.core.service import Service
from app.core.session import RUNS
from app.core.settings import Settings
from app.http.docs_assets import install_docs
from app.http.error_handlers import install_error_handlers
from app.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.http.responses import JSONBytesResponse
from app.http.routes import explain, predict, status
from app.http.routes.playground import install_playground
from app.http.security import AuthMiddleware, ModelControlMiddleware, document_bearer_auth
from app.ops.logs import configure_logging
from app.ops.metrics import Metrics
from app.ops.payload_log import payload_log
from app.ops.peers import Peers, repeat_control
from app.ops.shared_runs import SharedRunCounts
from app.v2 import repository_routes, rest_routes
from app.v2.grpc_server import GrpcServer

DESCRIPTION = (
    "Sentiment analysis with LSTM models served by ONNX Runtime: tokenization, dynamic batching, "
    "health checks, Prometheus metrics and the Open Inference Protocol (KServe v2). Every error "
    'is `{"error": "<message>", "type": "<kind>"}`.'
)


def add_middleware(
    app: FastAPI, settings: Settings, metrics: Metrics, service: Service, has_peers: bool
) -> None:
    """Added innermost first: the request context wraps everything, so every answer (401 and 413
    included) carries the request id and is counted; the /predict endpoint is innermost, so
    auth and the body limit apply to it as to every route."""
    app.add_middleware(
        predict.PredictEndpoint,
        answer=partial(predict.answer_predict, service),
        routes={path: predict.route_of(path) for path in predict.PREDICT_PATHS},
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ModelControlMiddleware, admin_key=settings.control_key)
    if settings.api_key is not None:
        app.add_middleware(
            AuthMiddleware,
            api_key=settings.api_key.get_secret_value(),
            protect_metrics=settings.metrics_require_key,
        )
    if settings.cors_origins:
        # outside auth, so browsers' pre-flight OPTIONS requests need no key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "X-Tokenization-Time",
                "X-Queue-Time",
                "X-Inference-Time",
                "Retry-After",
            ],
        )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        access_log=settings.access_log,
        has_peers=has_peers,
    )


async def start_grpc(
    settings: Settings, service: Service, repository: Repository, peers: Peers | None
) -> GrpcServer | None:
    if not settings.grpc_enabled:
        return None
    server = GrpcServer(settings, service, repository, peers)
    await server.start()
    return server


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.json_logs)
    metrics = Metrics()
    peers = Peers.from_env()  # set when app/ops/supervisor.py started this process
    RUNS.siblings = SharedRunCounts.from_env(peers)  # the other processes' runs, if any
    payloads = payload_log(settings, metrics, peers)
    service = Service(settings, metrics, payloads)
    models = Repository(service)
    if peers is not None:
        models.replicate = partial(repeat_control, peers, settings.control_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if payloads is not None:
            payloads.start()  # before any request; an unwritable path stops start-up here
        service.start()  # models load in the background: /health answers meanwhile
        grpc = await start_grpc(settings, service, models, peers)
        try:
            yield
        finally:
            if grpc is not None:
                await grpc.stop(settings.graceful_timeout_s)  # in-flight calls are answered
            await models.wait_retired()  # replaced versions finish what they hold
            await service.stop()
            if payloads is not None:
                await asyncio.to_thread(payloads.stop)  # what is queued is written

    app = FastAPI(
        title="Sentiment service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONBytesResponse,
        docs_url=None,  # install_docs serves both pages with assets from the package
        redoc_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    explain_router = explain.make_router(settings.explain_max_texts)
    app.state.repository = models
    app.state.peers = peers
    http_routers = (predict.router, explain_router, status.router)
    for router in (*http_routers, rest_routes.router, repository_routes.router):
        app.include_router(router)
    install_docs(app)
    install_playground(app)
    add_middleware(app, settings, metrics, service, has_peers=peers is not None)
    if settings.api_key is not None:
        document_bearer_auth(app, settings.metrics_require_key)
    predict.document_predict_body(app)
    return app
