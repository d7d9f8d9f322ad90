"""`POST /predict` and `POST /tokenize`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.deps import ContextDep, ServiceDep
from app.inference import (
    check_texts,
    prediction,
    tokenize_texts,
    tokenized,
    wait_for_client_gone,
)
from app.responses import JSONBytesResponse
from app.schemas import PredictResponse, TextsRequest, TokenizeResponse, error_responses

# strict_content_type=False: a JSON body without a Content-Type header is parsed as JSON
router = APIRouter(tags=["sentiment"], strict_content_type=False)


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
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    truncate = service.settings.truncate if body.truncate is None else body.truncate
    result = await service.classify(
        model, texts, truncate, lambda: wait_for_client_gone(request.receive)
    )
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
