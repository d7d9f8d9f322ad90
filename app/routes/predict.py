"""`POST /predict` and `POST /tokenize`.

Well-formed `/predict` bodies are usually answered by `app.fastpath` before FastAPI sees them;
this route answers the rest (every validation error) and documents the API. Both call
`answer_predict`, so the two paths give the same answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.routing import BaseRoute

from app.deps import ContextDep, ServiceDep
from app.inference import (
    Disconnected,
    check_texts,
    prediction,
    tokenize_texts,
    tokenized,
    wait_for_client_gone,
)
from app.middleware import RequestContext
from app.responses import JSONBytesResponse
from app.schemas import PredictResponse, TextsRequest, TokenizeResponse, error_responses
from app.service import Service

# strict_content_type=False: a JSON body without a Content-Type header is parsed as JSON
router = APIRouter(tags=["sentiment"], strict_content_type=False)


async def answer_predict(
    service: Service, body: TextsRequest, context: RequestContext, disconnected: Disconnected
) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds)."""
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    truncate = service.settings.truncate if body.truncate is None else body.truncate
    result = await service.classify(model, texts, truncate, disconnected)
    context.times = result.times
    labels = model.labels
    predictions = [
        prediction(labels, probs, item)
        for probs, item in zip(result.probabilities, result.encoded, strict=True)
    ]
    return JSONBytesResponse(
        {"model": model.name, "predictions": predictions}, headers=result.times.headers()
    )


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=error_responses(401, 404, 413, 422, 429, 503, 504),
    summary="Label the sentiment of one or more texts",
)
async def predict(
    body: TextsRequest, request: Request, service: ServiceDep, context: ContextDep
) -> JSONBytesResponse:
    """Answers in input order, with per-stage timings in `x-*-time` headers (milliseconds)."""
    return await answer_predict(
        service, body, context, lambda: wait_for_client_gone(request.receive)
    )


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
    results = [tokenized(item, truncate) for item in await tokenize_texts(model, texts)]
    return JSONBytesResponse({"model": model.name, "results": results})


def route_of(path: str) -> BaseRoute:
    """This router's route at `path` (the fast path labels its requests with it)."""
    return next(r for r in router.routes if getattr(r, "path", None) == path)
