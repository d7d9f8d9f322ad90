"""`"model": "auto"`: the language identifier, and /predict routing each text to the served
model of its language (tiny-en and tiny-ko), with a per-text error for unserved languages."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.core.language import LanguageIdentifier
from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = pytest.mark.anyio  # the sync identifier tests run as they are
ENGLISH = "What a wonderful, moving film"
KOREAN = "정말 재미있는 영화였어요 ㅋㅋ"
FRENCH = "Je ne sais pas quoi penser de ce film, il est vraiment nul."


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    found = LanguageIdentifier(frozenset({"en"}))
    found.load()
    return found


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (ENGLISH, "en"),
        (KOREAN, "ko"),
        ("CG는 최고, story는 별로", "ko"),  # Hangul beside English words
        ("ㅠㅠ", "ko"),
        ("この映画は本当に面白かった", "ja"),
        ("这部电影非常好看", "zh"),
        (FRENCH, "fr"),
        ("Das ist ein sehr schlechter Film", "de"),
        ("Этот фильм был ужасен", "ru"),
        ("10/10 !!! 👍", "und"),
        ("lol", "en"),  # short and unsure: the served Latin-script language
    ],
)
def test_identifies_languages(identifier: LanguageIdentifier, text: str, language: str) -> None:
    assert identifier.identify(text).language == language


async def predict(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post("/predict", json=body)


async def test_auto_routes_each_text_to_its_languages_model(client: httpx.AsyncClient) -> None:
    response = await predict(client, texts=[ENGLISH, KOREAN, "10/10"], model="auto", top_k=1)
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "auto"
    en, ko, unknown = body["predictions"]
    assert (en["model"], en["language"]) == ("tiny-en", "en")
    assert (ko["model"], ko["language"]) == ("tiny-ko", "ko")
    assert (unknown["model"], unknown["language"]) == ("tiny-en", "und")  # the default model
    named = (await predict(client, text=KOREAN, model="tiny-ko", top_k=1)).json()
    assert {k: ko[k] for k in named["predictions"][0]} == named["predictions"][0]


async def test_a_text_in_no_served_language_gets_its_own_error(client: httpx.AsyncClient) -> None:
    response = await predict(client, texts=[FRENCH, ENGLISH], model="auto")
    assert response.status_code == 200
    error, answered = response.json()["predictions"]
    assert error["type"] == "language_not_served" and error["language"] == "fr"
    assert "texts[0]" in error["error"] and "'fr'" in error["error"]
    assert "label" not in error
    assert answered["model"] == "tiny-en"


async def test_foreign_shapes_route_too_and_refuse_unserved_languages(
    client: httpx.AsyncClient,
) -> None:
    body = {"inputs": [[ENGLISH], [KOREAN]], "model": "auto"}
    en, ko = (await client.post("/predict", json=body)).json()
    assert len(en) == 3 and len(ko) == 2  # tiny-en has three labels, tiny-ko two
    refused = await client.post("/", json={"inputs": FRENCH, "parameters": {}, "model": "auto"})
    assert refused.status_code == 422
    assert "'fr'" in refused.json()["error"]


async def test_default_model_auto_routes_requests_that_name_none(bundles_root: Path) -> None:
    app = create_app(make_settings(bundles_root, default_model="auto"))
    async with serving(app) as client:
        ko = (await predict(client, text=KOREAN)).json()["predictions"][0]
        assert ko["model"] == "tiny-ko"
        named = (await predict(client, text=KOREAN, model="tiny-en")).json()
        assert named["model"] == "tiny-en"
        tokenized = (await client.post("/tokenize", json={"text": "fine"})).json()
        assert tokenized["model"] == "tiny-en"  # elsewhere: the first served model


async def test_auto_is_only_a_predict_name(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokenize", json={"text": "fine", "model": "auto"})
    assert response.status_code == 404
