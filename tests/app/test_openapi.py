"""/docs and /openapi.json describe every route, body, response and error."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.core.settings import Settings
from app.main import create_app
from tests.app.conftest import serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
# served, and deliberately not in the document: the document itself, its two pages, the playground
UNDOCUMENTED = {
    ("get", "/openapi.json"),
    ("head", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/oauth2-redirect"),
    ("get", "/redoc"),
}
# the HTTP contract's routes (DESIGN.md); the document lists these and every other route served
ROUTES = {
    ("post", "/predict"),
    ("post", "/"),  # /predict where huggingface_hub's InferenceClient posts
    ("get", "/"),  # the playground: documented since POST / made "/" a path of the API
    ("post", "/tokenize"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/models"),
    ("get", "/metrics"),
    ("get", "/v2"),
    ("get", "/v2/health/live"),
    ("get", "/v2/health/ready"),
    ("get", "/v2/models/{name}"),
    ("get", "/v2/models/{name}/ready"),
    ("post", "/v2/models/{name}/infer"),
}


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, whichever router holds it."""
    return {
        (method.lower(), route.path)
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()  # mounts (static files, docs assets) have none
    }


async def test_every_route_is_documented(settings: Settings) -> None:
    app = create_app(settings)
    async with serving(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    documented = {(method, path) for path, ops in paths.items() for method in ops}
    assert documented == served_routes(app) - UNDOCUMENTED
    assert documented >= ROUTES


async def test_bodies_responses_and_errors_are_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    predict = schema["paths"]["/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]["$ref"]
    assert body.endswith("PredictRequest")  # then the TEI and Inference API shapes
    predict_request = schema["components"]["schemas"]["PredictRequest"]
    assert predict_request["properties"]["full_model"]["anyOf"][0] == {"type": "boolean"}
    assert predict_request["additionalProperties"] is False
    answers = predict["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert answers[0]["$ref"].endswith("PredictResponse")
    for code in ("404", "413", "422", "429", "503", "504"):
        ref = predict["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("ErrorBody")
    infer = schema["paths"]["/v2/models/{name}/infer"]["post"]
    assert {"404", "413", "422", "429", "503", "504"} <= set(infer["responses"])
    assert schema["components"]["schemas"]["TextsRequest"]["additionalProperties"] is False
