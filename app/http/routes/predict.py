"""`POST /predict` and `POST /tokenize`.

`/predict` has one way in: `PredictEndpoint` answers every `POST /predict`, valid or not, with
one parser (`app.http.parsing.parse_body`) and one validation-message path, skipping FastAPI's
routing, dependency solving and exception layers, which cost more than the model on short texts.
The FastAPI route below documents it in OpenAPI (and gives other methods their 405); if it is
ever reached it runs the same parser and the same answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.context import CONTEXT_KEY, RequestContext
from app.core.errors import ServiceError
from app.core.limits import check_texts
from app.core.service import Service
from app.core.waiting import Disconnected, wait_for_client_gone
from app.core.worker import prediction
from app.http.deps import ContextDep, ServiceDep
from app.http.error_handlers import error_response
from app.http.middleware import header
from app.http.parsing import parse_body, read_body
from app.http.responses import JSONBytesResponse
from app.http.schemas import (
    PredictRequest,
    PredictResponse,
    TextsRequest,
    TokenizeResponse,
    error_responses,
)
from model.text import EncodedText

PREDICT_PATH = "/predict"
# strict_content_type=False: a JSON body without a Content-Type header is parsed as JSON
router = APIRouter(tags=["sentiment"], strict_content_type=False)


async def answer_predict(
    service: Service, body: PredictRequest, context: RequestContext, disconnected: Disconnected
) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds)."""
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    options = (model, texts, body.truncate, body.full_model, disconnected)
    analyses: list[dict[str, Any]] = []
    if body.sentences:
        result, analyses = await service.classify_sentences(*options)
    else:
        result = await service.classify(*options)
    context.times = result.times
    labels = model.labels
    predictions = [prediction(labels, scored) for scored in result.scored]
    for answer, extra in zip(predictions, analyses, strict=False):
        answer.update(extra)
    return JSONBytesResponse(
        {"model": model.name, "predictions": predictions}, headers=result.times.headers()
    )


# (validated body, the request's context, disconnect probe) -> the response
Answer = Callable[[PredictRequest, RequestContext, Disconnected], Awaitable[Response]]


class PredictEndpoint:
    """ASGI middleware that answers every `POST /predict`; other requests pass through."""

    def __init__(self, app: ASGIApp, answer: Answer, route: BaseRoute) -> None:
        self.app = app
        self.answer = answer  # `answer_predict` bound to the service
        self.route = route  # for the route label in metrics and logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http" and scope["path"] == PREDICT_PATH and scope["method"] == "POST"
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        body = await read_body(receive)
        try:
            request = parse_body(PredictRequest, body, header(scope, b"content-type"))
            response = await self.answer(
                request, scope[CONTEXT_KEY], lambda: wait_for_client_gone(receive)
            )
        except ServiceError as exc:
            response = error_response(exc, scope)
        await response(scope, receive, send)


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
        },
    }
}


@router.post(
    PREDICT_PATH,
    response_model=PredictResponse,
    responses=error_responses(401, 404, 413, 422, 429, 503, 504),
    summary="Label the sentiment of one or more texts",
    openapi_extra=PREDICT_BODY,
)
async def predict(request: Request, service: ServiceDep, context: ContextDep) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds).
    Each prediction says which graph answered it: `fast` (the bundle's cascade) or `full`."""
    body = parse_body(PredictRequest, await request.body(), header(request.scope, b"content-type"))
    return await answer_predict(
        service, body, context, lambda: wait_for_client_gone(request.receive)
    )


def document_predict_body(app: FastAPI) -> None:
    """PredictEndpoint parses the /predict body itself, so FastAPI does not know its model: add
    the schema that the route's `openapi_extra` refers to (call after any other OpenAPI hook)."""
    previous = app.openapi

    def schema() -> dict[str, Any]:
        document = previous()  # cached by FastAPI in app.openapi_schema; completed in place
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "PredictRequest" not in schemas:
            schemas["PredictRequest"] = PredictRequest.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        return document

    app.openapi = schema  # type: ignore[method-assign]


def tokenized(item: EncodedText, truncate: bool) -> dict[str, Any]:
    """The tokens the model reads; with truncate=False every token of the text."""
    if not truncate and item.truncated and item.encoding is not None:
        whole = item.encoding
        return {
            "tokens": whole.tokens,
            "ids": whole.ids,
            "offsets": whole.offsets,
            "count": len(whole.ids),
            "truncated": False,
        }
    return {
        "tokens": item.tokens,
        "ids": item.ids,
        "offsets": item.offsets,
        "count": len(item),
        "truncated": item.truncated,
    }


@router.post(
    "/tokenize",
    response_model=TokenizeResponse,
    responses=error_responses(401, 404, 413, 422, 503),
    summary="Show how the model's tokenizer splits texts",
)
async def tokenize(
    body: TextsRequest, service: ServiceDep, context: ContextDep
) -> JSONBytesResponse:
    """With truncation (the default) the tokens are those the model reads; with
    `"truncate": false` the whole text's tokens, since no model limit applies here."""
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    truncate = service.settings.truncate if body.truncate is None else body.truncate
    results = [tokenized(item, truncate) for item in await model.tokenize(texts)]
    return JSONBytesResponse({"model": model.name, "results": results})


def route_of(path: str) -> BaseRoute:
    """This router's route at `path` (the endpoint labels its requests with it)."""
    return next(r for r in router.routes if getattr(r, "path", None) == path)
