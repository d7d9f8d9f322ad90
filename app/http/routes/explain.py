"""`POST /explain`: each text's prediction and every word's contribution toward each label.

The router is built per app, since its documented body says how many texts the configured limit
allows (`maxItems`), so the OpenAPI document states what the handler checks.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from pydantic import ConfigDict

from app.core.context import RequestContext
from app.core.limits import check_texts
from app.core.occlusion import ExplainLimits, SentencesAsked, explain_texts
from app.core.sentence_scoring import mixed_rule, split_checked
from app.core.service import Service
from app.http.deps import ContextDep, ServiceDep
from app.http.responses import JSONBytesResponse
from app.http.schemas import ExplainBody, ExplainResponse, error_responses

DESCRIPTION = """Same body as /predict, tighter limits (`SENTIMENT_EXPLAIN_MAX_TEXTS`,
`SENTIMENT_EXPLAIN_MAX_TOKENS`). Method: occlusion, each word deleted in turn and every variant
scored in one batch; a word's contribution is the label's log-odds for the text minus those
without the word. With `"sentences": true` each explanation also holds `sentences` and
`aggregate` as in /predict, the sentences scored in the same batch as the variants (on the full
model, as every row of an explanation)."""


@cache  # building a pydantic model costs ~10 ms; apps with the same limit share one
def request_model(max_texts: int) -> type[ExplainBody]:
    """ExplainBody whose documented `texts` holds at most `max_texts` items."""
    extra: dict[str, Any] = dict(ExplainBody.model_config.get("json_schema_extra") or {})

    def document(schema: dict[str, Any]) -> None:
        schema.update(extra)
        schema["properties"]["texts"]["maxItems"] = max_texts

    config = ConfigDict(**{**ExplainBody.model_config, "json_schema_extra": document})
    return type("ExplainRequest", (ExplainBody,), {"model_config": config, "__module__": __name__})


async def sentences_asked(
    service: Service, body: ExplainBody, language: str
) -> SentencesAsked | None:
    if not body.sentences:
        return None
    spans = await split_checked(body.items, language, service.sentence_limits)
    return SentencesAsked(spans, mixed_rule(language, service.settings.mixed_threshold))


async def answer_explain(
    service: Service, body: ExplainBody, context: RequestContext
) -> JSONBytesResponse:
    texts = body.items
    check_texts(texts, service.limits)
    model = service.model(body.model)
    context.model = model.name
    settings = service.settings
    truncate = settings.truncate if body.truncate is None else body.truncate
    limits = ExplainLimits(settings.explain_max_texts, settings.explain_max_tokens)
    asked = await sentences_asked(service, body, model.bundle.manifest.language)
    deadline = service.deadline()
    answers, times = await explain_texts(model, texts, truncate, deadline, limits, asked)
    context.times = times
    service.metrics.observe_stage(model.name, "tokenization", times.tokenization / 1e3)
    return JSONBytesResponse(
        {"model": model.name, "explanations": answers}, headers=times.headers()
    )


def make_router(max_texts: int) -> APIRouter:
    router = APIRouter(tags=["sentiment"], strict_content_type=False)
    body_model = request_model(max_texts)

    async def explain(body, service, context):  # noqa: ANN001 (annotated below)
        return await answer_explain(service, body, context)

    # real objects, not strings: FastAPI reads them to build the body and the dependencies
    explain.__annotations__ = {
        "body": body_model,
        "service": ServiceDep,
        "context": ContextDep,
        "return": JSONBytesResponse,
    }
    router.post(
        "/explain",
        response_model=ExplainResponse,
        responses=error_responses(401, 404, 413, 422, 429, 503, 504),
        summary="Label texts and show how much each word moved each label's probability",
        description=DESCRIPTION,
    )(explain)
    return router
