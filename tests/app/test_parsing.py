"""The one parser of /predict bodies: which bodies are JSON, and that answers and errors are
worded as FastAPI words them on every other route."""

from __future__ import annotations

import httpx
import pytest

from app.http.parsing import json_content

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


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


NOT_READ = "the request body could not be read: There was an error parsing the body"
NOT_OBJECT = "body must be a JSON object sent with Content-Type: application/json"
SURROGATE = "texts[0] holds a lone UTF-16 surrogate escape (\\ud800-\\udfff); send valid Unicode"
# Bodies and the answers FastAPI's own validation gave them before /predict parsed its bodies
# itself (recorded from that code): one parser, the same words.
FASTAPI_WORDING = [
    (b"", None, "body: Field required"),
    (b'{"text": ', None, "body is not valid JSON (Expecting value at position 9)"),
    (b"[1, 2]", None, NOT_OBJECT),
    (b"null", None, NOT_OBJECT),
    (b"{}", None, "body: send exactly one of `text` (a string) or `texts` (a list of strings)"),
    (b'{"texts": []}', None, "body: `texts` is empty; send at least one text"),
    (b'{"text": 5}', None, "text: Input should be a valid string"),
    (b'{"texts": ["ok", 3]}', None, "texts.1: Input should be a valid string"),
    (b'{"text": "ok", "colour": "red"}', None, "colour: unknown field; remove it"),
    (b'{"text": "ok"} trailing', None, "body is not valid JSON (Extra data at position 15)"),
    (b"\xff\xfe\x00", None, NOT_READ),
    (b"[" * 5000 + b"]" * 5000, None, NOT_READ),
    (b'{"text": "good"}', b"text/plain", NOT_OBJECT),
    (b'{"text": "\\ud800"}', None, SURROGATE),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "message"), FASTAPI_WORDING)
async def test_bad_bodies_are_worded_as_fastapi_words_them(
    client: httpx.AsyncClient, body: bytes, content_type: bytes | None, message: str
) -> None:
    headers = {"content-type": content_type.decode()} if content_type else {}
    response = await client.post("/predict", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json() == {"error": message, "type": "invalid_input"}


async def test_other_methods_are_refused_by_fastapi(client: httpx.AsyncClient) -> None:
    response = await client.get("/predict")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
