"""POST /explain: per-word contributions by occlusion, on the session's real tiny bundles."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from app.core.occlusion import Word, log_odds, occluded_rows, words_of
from app.main import create_app
from bench.faithfulness import without as without_words
from model.text import UNK_ID
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
TEXT = "A wonderful, moving film. I didn't like the ending!!!"


def spans(text: str, offsets: list[tuple[int, int]]) -> list[str]:
    return [text[w.start : w.end] for w in words_of(text, offsets)]


def test_words_join_subwords_and_split_punctuation() -> None:
    # Metaspace offsets include the leading space; "wonder"+"ful" is one word
    text = "so wonderful!!! don't"
    offsets = [(0, 2), (2, 9), (9, 12), (12, 13), (13, 14), (14, 15), (15, 19), (19, 20), (20, 21)]
    assert spans(text, offsets) == ["so", "wonderful", "!!!", "don't"]


def test_bytes_of_one_character_stay_one_word_and_space_tokens_join_the_next() -> None:
    text = "love 😍 ."
    offsets = [(0, 4), (4, 5), (5, 6), (5, 6), (5, 6), (6, 7), (7, 8)]
    words = words_of(text, offsets)
    assert [text[w.start : w.end] for w in words] == ["love", "😍", "."]
    assert words[1] == Word(5, 6, 1, 5) and words[2] == Word(7, 8, 5, 7)


def test_occluded_rows_drop_one_word_each_and_never_leave_a_row_empty() -> None:
    words = [Word(0, 1, 0, 1), Word(2, 3, 1, 3)]
    assert occluded_rows([5, 6, 7], words) == [[6, 7], [5]]
    assert occluded_rows([5], [Word(0, 1, 0, 1)]) == [[UNK_ID]]


def test_log_odds_stay_finite_and_exact_when_a_probability_rounds_to_one() -> None:
    assert log_odds([0.25, 0.75]) == pytest.approx([-1.0986123, 1.0986123])
    saturated = log_odds([1e-20, 1.0, 1e-20])  # p rounds to 1; 1 - p = 2e-20
    assert saturated[1] == pytest.approx(-math.log(2e-20))


async def test_explains_every_word_toward_every_label(client: httpx.AsyncClient) -> None:
    response = await client.post("/explain", json={"text": TEXT})
    assert response.status_code == 200, response.text
    body = response.json()
    labels = (await client.get("/models")).json()["models"][0]["labels"]
    (explained,) = body["explanations"]
    assert explained["method"] == "occlusion" and explained["label"] in labels
    assert [w["text"] for w in explained["words"]][:3] == ["A", "wonderful", ","]
    for word in explained["words"]:
        assert TEXT[word["start"] : word["end"]] == word["text"]
        assert set(word["contributions"]) == set(labels)
    assert "x-inference-time" in response.headers


async def test_prediction_is_the_full_models_answer_from_predict(
    client: httpx.AsyncClient,
) -> None:
    # every variant of a text must take the same graph, so /explain explains the full model
    texts = ["great", TEXT, "boring and far too long"]
    explained = (await client.post("/explain", json={"texts": texts})).json()["explanations"]
    body = {"texts": texts, "full_model": True}
    predicted = (await client.post("/predict", json=body)).json()["predictions"]
    for e, p in zip(explained, predicted, strict=True):
        assert e["label"] == p["label"] and e["tokens"] == p["tokens"]
        assert e["path"] == p["path"] == "full"
        for label, value in p["probabilities"].items():
            assert e["probabilities"][label] == pytest.approx(value, abs=1e-6)


async def test_contribution_is_the_drop_when_the_word_is_deleted(
    client: httpx.AsyncClient,
) -> None:
    (explained,) = (await client.post("/explain", json={"text": TEXT})).json()["explanations"]
    word = explained["words"][1]  # "wonderful", its own pre-token: deleting the span is exact
    shorter = without_words(TEXT, [word])  # "A, moving film...": the same tokens as occluded
    body = {"text": shorter, "full_model": True}
    (rest,) = (await client.post("/predict", json=body)).json()["predictions"]
    before = log_odds(list(explained["probabilities"].values()))
    after = log_odds(list(rest["probabilities"].values()))
    for c, value in enumerate(word["contributions"].values()):
        assert value == pytest.approx(before[c] - after[c], abs=1e-4)


async def test_limits_on_texts_and_tokens(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, explain_max_texts=2, explain_max_tokens=5)
    async with serving(create_app(settings)) as client:
        many = await client.post("/explain", json={"texts": ["a", "b", "c"]})
        long = await client.post("/explain", json={"text": "one two three four five six"})
        fine = await client.post("/explain", json={"texts": ["good", "bad"]})
    assert many.status_code == 422 and "at most 2" in many.json()["error"]
    assert long.status_code == 413 and long.json()["type"] == "payload_too_large"
    assert fine.status_code == 200


async def test_errors_have_the_one_shape(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/explain", json={"text": "x", "model": "nope"})
    empty = await client.post("/explain", json={"text": "  "})
    assert unknown.status_code == 404 and set(unknown.json()) == {"error", "type"}
    assert empty.status_code == 422 and set(empty.json()) == {"error", "type"}


async def test_needs_the_api_key_and_is_counted(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, api_key="secret")
    async with serving(create_app(settings)) as client:
        refused = await client.post("/explain", json={"text": "good"})
        allowed = await client.post(
            "/explain", json={"text": "good"}, headers={"Authorization": "Bearer secret"}
        )
        metrics = (await client.get("/metrics")).text
    assert refused.status_code == 401 and allowed.status_code == 200
    assert 'route="/explain"' in metrics


async def test_is_documented_like_predict(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/explain"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("ExplainResponse")
    assert {"401", "404", "413", "422", "429", "503", "504"} <= set(operation["responses"])


async def test_three_labels_get_three_contributions_per_word(bundles_root: Path) -> None:
    # tiny-en, the default model, answers TweetEval's three labels
    async with serving(create_app(make_settings(bundles_root))) as client:
        response = await client.post("/explain", json={"texts": ["so happy today!", TEXT]})
    assert response.status_code == 200, response.text
    for explained in response.json()["explanations"]:
        assert list(explained["probabilities"]) == ["negative", "neutral", "positive"]
        for word in explained["words"]:
            assert list(word["contributions"]) == ["negative", "neutral", "positive"]
            assert all(math.isfinite(v) for v in word["contributions"].values())


async def test_documented_body_states_the_configured_text_limit(bundles_root: Path) -> None:
    async with serving(create_app(make_settings(bundles_root, explain_max_texts=3))) as client:
        schema = (await client.get("/openapi.json")).json()
    body = schema["components"]["schemas"]["ExplainRequest"]
    assert body["properties"]["texts"]["maxItems"] == 3
    assert body["additionalProperties"] is False and body["oneOf"]
