"""`POST /explain`: each text's prediction and every word's contribution toward each label."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import ContextDep, ServiceDep
from app.explain import ExplainLimits, explain_texts
from app.inference import check_texts
from app.responses import JSONBytesResponse
from app.schemas import ExplainResponse, TextsRequest, error_responses

router = APIRouter(tags=["sentiment"], strict_content_type=False)


@router.post(
    "/explain",
    response_model=ExplainResponse,
    responses=error_responses(401, 404, 413, 422, 429, 503, 504),
    summary="Label texts and show how much each word moved each label's probability",
)
async def explain(
    body: TextsRequest, service: ServiceDep, context: ContextDep
) -> JSONBytesResponse:
    """Same body as /predict, tighter limits (`SENTIMENT_EXPLAIN_MAX_TEXTS`, `..._TOKENS`).
    Method: occlusion, each word deleted in turn and every variant scored in one batch; a
    word's contribution is the label's log-odds for the text minus those without the word."""
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    settings = service.settings
    truncate = settings.truncate if body.truncate is None else body.truncate
    limits = ExplainLimits(settings.explain_max_texts, settings.explain_max_tokens)
    answers, times = await explain_texts(model, texts, truncate, service.deadline(), limits)
    context.times = times
    service.metrics.observe_stage(model.name, "tokenization", times.tokenization / 1e3)
    return JSONBytesResponse(
        {"model": model.name, "explanations": answers}, headers=times.headers()
    )
