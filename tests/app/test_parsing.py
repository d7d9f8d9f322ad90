"""The one parser of /predict bodies: which bodies are JSON, and that answers and errors are
worded as FastAPI words them on every other route."""

from __future__ import annotations

import httpx
import pytest

from app.parsing import json_content

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/vnd.api+json", True),
        (b"text/plain", False),
        (b"application/x-www-form-urlencoded", False),
        (b"multipart/form-data; boundary=x", False),
    ],
)
def test_json_content_follows_fastapi(content_type: bytes | None, expected: bool) -> None:
    assert json_content(content_type) is expected


async def test_charset_and_plus_json_bodies_are_answered(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = await client.post(
            "/predict", content=b'{"text": "good"}', headers={"content-type": content_type}
        )
        assert response.status_code == 200
        assert response.json()["predictions"][0]["label"] in ("negative", "neutral", "positive")


async def test_a_text_body_is_refused_as_not_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/predict", content=b'{"text": "good"}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["type"] == "invalid_input"


async def test_answers_are_labelled_with_the_route(client: httpx.AsyncClient) -> None:
    await client.post("/predict", json={"text": "good"})
    metrics = (await client.get("/metrics")).text
    assert 'route="/predict"' in metrics
    assert 'route="<unmatched>"' not in metrics
