"""Hostile input: arbitrary Unicode, lone surrogates, huge and deeply nested bodies.

Every request gets a correct answer or a clear 4xx in the one error shape; never a 5xx or a hang.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.app.conftest import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
ROUTES = ["/predict", "/tokenize", "/v2/models/tiny-en/infer"]
V2 = '{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [%s]}]}'


def raw_body(route: str, string_literal: str) -> bytes:
    """A request body holding one text, given as a JSON string literal (escapes untouched)."""
    if route.startswith("/v2/"):
        return (V2 % string_literal).encode()
    return ('{"text": ' + string_literal + "}").encode()


def post_text(client: TestClient, route: str, text: str):
    body = raw_body(route, json.dumps(text))
    return client.post(route, content=body, headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def client(bundles_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(bundles_root, variant="fp32"))) as test_client:
        test_client.get("/ready")  # lifespan started; loading runs in the background
        for _ in range(300):
            if test_client.get("/ready").status_code == 200:
                break
            import time

            time.sleep(0.05)
        yield test_client


def assert_clear_client_error(response, *codes: int) -> None:
    assert response.status_code in codes, response.text
    body = response.json()
    assert set(body) == {"error", "type"} and body["error"] and "Traceback" not in body["error"]


def assert_valid_prediction(response) -> None:
    assert response.status_code == 200, response.text
    for prediction in response.json()["predictions"]:
        assert math.isclose(sum(prediction["probabilities"].values()), 1.0, abs_tol=1e-4)
        assert prediction["label"] in prediction["probabilities"]


@FUZZ
@given(text=st.text(min_size=1, max_size=400))
def test_any_unicode_text_is_answered_or_refused_clearly(client: TestClient, text: str) -> None:
    response = client.post("/predict", json={"text": text})
    if text.strip():
        assert_valid_prediction(response)
    else:
        assert_clear_client_error(response, 422)


@FUZZ
@given(text=st.text(st.characters(codec="utf-8"), min_size=1, max_size=200).filter(str.strip))
def test_tokenize_offsets_stay_inside_the_text(client: TestClient, text: str) -> None:
    (result,) = client.post("/tokenize", json={"text": text}).json()["results"]
    assert all(0 <= start <= end <= len(text) for start, end in result["offsets"])


@pytest.mark.parametrize(
    "text",
    [
        "nul \x00 inside",
        "\u202eright-to-left override \u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0633\u0644",
        "combining e\u0301\u0301\u0301\u0301\u0301\u0301 marks" + "\u0300" * 500,
        "emoji 👍🏽👨‍👩‍👧‍👦🇰🇷 and zero-width\u200b\u200d joiners",
        "\ufeffbyte order mark and \uffff noncharacter",
        "한국어와 English mixed 😀",
    ],
)
@pytest.mark.parametrize("route", ROUTES)
def test_unusual_unicode_is_answered(client: TestClient, route: str, text: str) -> None:
    response = post_text(client, route, text)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "abc \\udc00 def", "\\ud83d"])
def test_lone_surrogates_in_json_escapes_are_a_422(client: TestClient, route: str, escape: str):
    body = raw_body(route, '"' + escape + '"')
    response = client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert_clear_client_error(response, 422)


@pytest.mark.parametrize("route", ROUTES)
def test_a_one_megabyte_text_is_a_413(client: TestClient, route: str) -> None:
    response = post_text(client, route, "a" * 1_000_000)
    assert_clear_client_error(response, 413)


def test_a_text_over_the_character_limit_is_a_413_naming_it(client: TestClient) -> None:
    response = client.post("/predict", json={"texts": ["fine", "b " * 60_000]})
    assert_clear_client_error(response, 413)
    assert "texts[1]" in response.json()["error"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_a_422(client: TestClient, depth: int) -> None:
    body = "[" * depth + "]" * depth
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert_clear_client_error(response, 422, 413)


def test_deeply_nested_text_field_is_a_422(client: TestClient) -> None:
    body = '{"text": ' + "[" * 5_000 + "]" * 5_000 + "}"
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert_clear_client_error(response, 422)


def test_huge_list_of_texts_is_refused_with_the_limit(client: TestClient) -> None:
    response = client.post("/predict", json={"texts": ["ok"] * 50_000})
    assert_clear_client_error(response, 422, 413)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",
        b'{"text": "unterminated',
        b"",
        b"null",
        b"[]",
        b'"just a string"',
        json.dumps({"text": 12}).encode(),
        json.dumps({"texts": [None]}).encode(),
    ],
)
def test_malformed_bodies_are_a_422(client: TestClient, body: bytes) -> None:
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert_clear_client_error(response, 422)


def test_service_is_still_healthy_after_the_abuse(client: TestClient) -> None:
    assert client.get("/ready").status_code == 200
    assert_valid_prediction(client.post("/predict", json={"text": "a fine film"}))
