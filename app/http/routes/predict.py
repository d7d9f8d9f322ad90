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
from app.core.errors import InvalidInput, ServiceError
from app.core.limits import check_texts
from app.core.routing import AUTO, NOT_SERVED
from app.core.service import Service
from app.core.waiting import Disconnected, wait_for_client_gone
from app.core.worker import Scored, detailed_prediction, prediction
from app.http.compat import (
    AnyPredictRequest,
    ForeignResponse,
    InferenceApiRequest,
    TeiPredictRequest,
    parse_predict,
    scored_labels,
)
from app.http.deps import ContextDep, ServiceDep
from app.http.error_handlers import error_response
from app.http.middleware import header
from app.http.parsing import read_body
from app.http.responses import JSONBytesResponse
from app.http.schemas import (
    PredictRequest,
    PredictResponse,
    TextsRequest,
    TokenizeResponse,
    direction_of,
    error_responses,
)
from model.text import Direction, EncodedText

PREDICT_PATH = "/predict"
ROOT_PATH = "/"  # where huggingface_hub's InferenceClient posts when given the base URL
PREDICT_PATHS = (PREDICT_PATH, ROOT_PATH)
# strict_content_type=False: a JSON body without a Content-Type header is parsed as JSON
router = APIRouter(tags=["sentiment"], strict_content_type=False)


async def answer_predict(
    service: Service, body: AnyPredictRequest, context: RequestContext, disconnected: Disconnected
) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds)."""
    if not isinstance(body, PredictRequest):
        return await answer_foreign(service, body, context, disconnected)
    texts = body.items
    check_texts(texts, service.limits)
    if service.wants_auto(body.model):
        return await answer_auto(service, body, context, disconnected)
    model = service.model(body.model)
    context.model = model.name
    options = (model, texts, body.truncate, body.full_model, disconnected, body.direction)
    analyses: list[dict[str, Any]] = []
    if body.sentences:
        result, analyses = await service.classify_sentences(*options)
    else:
        result = await service.classify(*options)
    context.times = result.times
    labels = model.labels
    if body.top_k is None and not body.raw_scores:
        predictions = [prediction(labels, scored) for scored in result.scored]
    else:
        raw = bool(body.raw_scores)
        predictions = [detailed_prediction(labels, s, body.top_k, raw) for s in result.scored]
    for answer, extra in zip(predictions, analyses, strict=False):
        answer.update(extra)
    return JSONBytesResponse(
        {"model": model.name, "predictions": predictions}, headers=result.times.headers()
    )


async def answer_auto(
    service: Service, body: PredictRequest, context: RequestContext, disconnected: Disconnected
) -> JSONBytesResponse:
    """`"model": "auto"`: each prediction names its model and language; a text in a language
    no served model reads gets a per-text error in its place."""
    if body.sentences:
        raise InvalidInput(
            '`"sentences": true` needs a named model; with "model": "auto" it is not offered. '
            "Name the model of the texts' language (see GET /models)"
        )
    routed = await service.classify_auto(
        body.items, body.truncate, body.full_model, disconnected, body.direction
    )
    context.model, context.times = AUTO, routed.times
    predictions = []
    for route, scored in zip(routed.routes, routed.scored, strict=True):
        if route.model is None or scored is None:
            error = {"error": route.error, "type": NOT_SERVED, "language": route.language}
            predictions.append(error)
            continue
        answer = detailed_prediction(route.model.labels, scored, body.top_k, bool(body.raw_scores))
        predictions.append({**answer, "model": route.model.name, "language": route.language})
    return JSONBytesResponse(
        {"model": AUTO, "predictions": predictions}, headers=routed.times.headers()
    )


async def foreign_scores(
    service: Service,
    body: TeiPredictRequest | InferenceApiRequest,
    truncate: bool | None,
    direction: Direction | None,
    context: RequestContext,
    disconnected: Disconnected,
) -> list[tuple[list[str], Scored]]:
    """(labels, answer) per text for the foreign shapes, from the named model or by language
    (a text in no served language refuses the request: these shapes have no per-text error)."""
    texts = body.texts
    check_texts(texts, service.limits)
    if service.wants_auto(body.model):
        routed = await service.classify_auto(
            texts, truncate, None, disconnected, direction, refuse_unserved=True
        )
        context.model, context.times = AUTO, routed.times
        return [
            (r.model.labels, s)  # type: ignore[union-attr]
            for r, s in zip(routed.routes, routed.scored, strict=True)
        ]
    model = service.model(body.model)
    context.model = model.name
    result = await service.classify(model, texts, truncate, None, disconnected, direction)
    context.times = result.times
    return [(model.labels, scored) for scored in result.scored]


async def answer_foreign(
    service: Service,
    body: TeiPredictRequest | InferenceApiRequest,
    context: RequestContext,
    disconnected: Disconnected,
) -> JSONBytesResponse:
    """TEI's and the Inference API's answer: `[{"score", "label"}]` per text, best first."""
    if isinstance(body, TeiPredictRequest):
        truncate, direction = body.truncate, direction_of(body.truncation_direction)
        function, top_k, batch = ("none" if body.raw_scores else "softmax"), None, body.batch
    else:
        truncate, direction, batch = None, None, True  # the client reads a list per text
        function = body.parameters.function_to_apply or "softmax"
        top_k = body.parameters.top_k
    scores = await foreign_scores(service, body, truncate, direction, context, disconnected)
    answers = [
        scored_labels(labels, s.probabilities, s.logits or [], function)[:top_k]
        for labels, s in scores
    ]
    headers = context.times.headers() if context.times is not None else {}
    return JSONBytesResponse(answers if batch else answers[0], headers=headers)


# (validated body, the request's context, disconnect probe) -> the response
Answer = Callable[[AnyPredictRequest, RequestContext, Disconnected], Awaitable[Response]]


class PredictEndpoint:
    """ASGI middleware that answers every `POST /predict` and `POST /`; other requests pass."""

    def __init__(self, app: ASGIApp, answer: Answer, routes: dict[str, BaseRoute]) -> None:
        self.app = app
        self.answer = answer  # `answer_predict` bound to the service
        self.routes = routes  # path -> route, for the route label in metrics and logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        body = await read_body(receive)
        try:
            request = parse_predict(body, header(scope, b"content-type"))
            response = await self.answer(
                request, scope[CONTEXT_KEY], lambda: wait_for_client_gone(receive)
            )
        except ServiceError as exc:
            response = error_response(exc, scope)
        await response(scope, receive, send)


BODY_MODELS = (PredictRequest, TeiPredictRequest, InferenceApiRequest)
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in BODY_MODELS]
                }
            }
        },
    }
}
PREDICT_RESPONSE = PredictResponse | ForeignResponse
# what `POST /predict` and `POST /` document alike: every body shape, every answer, the errors
PREDICT_ROUTE_DOCS: dict[str, Any] = {
    "response_model": PREDICT_RESPONSE,
    "responses": error_responses(401, 404, 413, 422, 429, 503, 504),
    "openapi_extra": PREDICT_BODY,
}


@router.post(PREDICT_PATH, summary="Label the sentiment of one or more texts", **PREDICT_ROUTE_DOCS)
async def predict(request: Request, service: ServiceDep, context: ContextDep) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds).
    Each prediction says which graph answered it: `fast` (the bundle's cascade) or `full`.

    Three request shapes: the service's own (`text` / `texts`, answered with `model` and
    `predictions`); Hugging Face text-embeddings-inference's (`inputs`, `truncate`,
    `truncation_direction`, `raw_scores`), answered as TEI does, `[{"score", "label"}]` per text
    best first, one list for one text and a list of lists for a batch `[[text], ...]`; and the
    Hugging Face Inference API's (`inputs`, `parameters`: `top_k`, `function_to_apply`), always
    answered with a list of lists."""
    return await _answer(request, service, context)


@router.post(
    ROOT_PATH,
    summary="/predict at the base URL, where Hugging Face's InferenceClient posts",
    **PREDICT_ROUTE_DOCS,
)
async def predict_at_root(
    request: Request, service: ServiceDep, context: ContextDep
) -> JSONBytesResponse:
    """The same route as `POST /predict`, every shape: `huggingface_hub.InferenceClient(
    base_url)` posts to the URL it is given, so a client given the service's base URL works
    unmodified. `GET /` stays the playground."""
    return await _answer(request, service, context)


async def _answer(request: Request, service: Service, context: RequestContext) -> Response:
    """Reached only if PredictEndpoint is not installed: the same parser, the same answer."""
    body = parse_predict(await request.body(), header(request.scope, b"content-type"))
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
        for model in BODY_MODELS:
            if model.__name__ not in schemas:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
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
