"""Per-sentence analysis: the splitter's spans, the aggregate, and `"sentences": true` on
/predict against real tiny bundles."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.sentence_scoring import MixedRule, aggregate, mixed_score
from app.core.sentences import split_spans
from app.main import create_app
from tests.app.conftest import make_settings, serving

REVIEW = "The acting was superb. The plot, however, was a mess!  Would I watch it again? No."


def texts_of(text: str, language: str) -> list[str]:
    return [text[a:b] for a, b in split_spans(text, language)]


def test_english_sentences_are_spans_of_the_original_text() -> None:
    assert texts_of(REVIEW, "en") == [
        "The acting was superb.",
        "The plot, however, was a mess!",
        "Would I watch it again?",
        "No.",
    ]


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert texts_of("Dr. Smith left at 5 p.m. on Monday. Great.", "en") == [
        "Dr. Smith left at 5 p.m. on Monday.",
        "Great.",
    ]


def test_line_breaks_and_br_markup_end_sentences_and_stay_outside_spans() -> None:
    text = "Loved it<br /><br />hated the end\nok"
    assert texts_of(text, "en") == ["Loved it", "hated the end", "ok"]


def test_korean_sentences_end_at_final_endings_without_punctuation() -> None:
    text = "배송 빨라요 ㅎㅎ 품질은 별로네요 기대보다 좋았다 추천합니다"
    assert texts_of(text, "ko") == [
        "배송 빨라요 ㅎㅎ",
        "품질은 별로네요",
        "기대보다 좋았다",
        "추천합니다",
    ]


def test_spans_survive_characters_outside_the_bmp() -> None:
    text = "Great 😀 film. Bad 😡 end."
    assert texts_of(text, "en") == ["Great 😀 film.", "Bad 😡 end."]


LABELS = ["negative", "neutral", "positive"]


def test_mixed_needs_a_strong_positive_and_a_strong_negative_sentence() -> None:
    assert mixed_score(LABELS, [[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]) == pytest.approx(0.8)
    assert mixed_score(LABELS, [[0.9, 0.05, 0.05], [0.7, 0.1, 0.2]]) == pytest.approx(0.2)
    assert mixed_score(LABELS, [[0.9, 0.05, 0.05]]) is None
    assert mixed_score(["a", "b"], [[0.9, 0.1], [0.1, 0.9]]) is None


def test_aggregate_weights_sentences_by_length() -> None:
    result = aggregate(
        LABELS, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [(0, 10), (11, 41)], MixedRule(0.5)
    )
    assert result["label"] == "positive"
    assert result["probabilities"]["positive"] == pytest.approx(0.75)
    assert result["mixed"] is True
    assert result["sentences"] == 2


pytestmark_anyio = pytest.mark.anyio


@pytestmark_anyio
@pytest.mark.parametrize("model", ["tiny-en", "tiny-ko"])
async def test_predict_answers_every_sentence_and_an_aggregate(
    client: httpx.AsyncClient, model: str
) -> None:
    text = REVIEW if model == "tiny-en" else "배송 빨라요. 품질은 별로네요 다시는 안 사요"
    body = {"text": text, "model": model, "sentences": True}
    response = await client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    (answer,) = response.json()["predictions"]
    plain = (await client.post("/predict", json={"text": text, "model": model})).json()
    assert answer["probabilities"] == plain["predictions"][0]["probabilities"]
    sentences = answer["sentences"]
    assert [text[s["start"] : s["end"]] for s in sentences] == texts_of(text, model[-2:])
    for sentence in sentences:
        alone = await client.post(
            "/predict", json={"text": text[sentence["start"] : sentence["end"]], "model": model}
        )
        assert sentence["probabilities"] == pytest.approx(
            alone.json()["predictions"][0]["probabilities"], abs=1e-6
        )
    assert answer["aggregate"]["sentences"] == len(sentences)
    assert set(answer["aggregate"]["probabilities"]) == set(answer["probabilities"])


@pytestmark_anyio
async def test_one_sentence_texts_reuse_the_whole_texts_answer(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/predict", json={"texts": ["Great.", "Bad. Good."], "sentences": True}
    )
    first, second = response.json()["predictions"]
    assert first["sentences"][0]["probabilities"] == first["probabilities"]
    assert first["aggregate"]["mixed_score"] is None
    assert len(second["sentences"]) == 2


@pytestmark_anyio
async def test_texts_and_sentences_go_to_the_batcher_in_one_submission(
    client: httpx.AsyncClient,
) -> None:
    worker = client._transport.app.state.service.model("tiny-en")  # type: ignore[attr-defined]
    calls: list[int] = []
    real = worker.batcher.submit

    def counting(payloads, sizes, deadline):
        calls.append(len(payloads))
        return real(payloads, sizes, deadline)

    worker.batcher.submit = counting
    try:
        await client.post("/predict", json={"texts": [REVIEW, "Fine. Bad."], "sentences": True})
    finally:
        del worker.batcher.submit
    assert calls == [2 + 4 + 2]


@pytestmark_anyio
async def test_without_the_option_answers_have_no_sentence_fields(
    client: httpx.AsyncClient,
) -> None:
    (answer,) = (await client.post("/predict", json={"text": REVIEW})).json()["predictions"]
    assert "sentences" not in answer and "aggregate" not in answer


@pytestmark_anyio
async def test_a_text_over_the_sentence_limit_is_413_naming_the_limit(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, max_sentences=3)
    async with serving(create_app(settings)) as client:
        response = await client.post("/predict", json={"text": REVIEW, "sentences": True})
        assert response.status_code == 413
        assert "4 sentences" in response.json()["error"]
        assert "at most 3 per text (SENTIMENT_MAX_SENTENCES)" in response.json()["error"]
        plain = await client.post("/predict", json={"text": REVIEW})
        assert plain.status_code == 200


@pytestmark_anyio
async def test_a_request_over_the_total_sentence_limit_is_413(bundles_root: Path) -> None:
    settings = make_settings(bundles_root, max_request_sentences=5)
    async with serving(create_app(settings)) as client:
        response = await client.post(
            "/predict", json={"texts": [REVIEW, REVIEW], "sentences": True}
        )
    assert response.status_code == 413
    assert "SENTIMENT_MAX_REQUEST_SENTENCES" in response.json()["error"]


@pytestmark_anyio
async def test_sentences_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"text": REVIEW, "sentences": "yes"})
    assert response.status_code == 422
    assert "sentences" in response.json()["error"]


@pytestmark_anyio
async def test_explain_adds_sentences_scored_on_the_full_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/explain", json={"text": REVIEW, "sentences": True})
    assert response.status_code == 200, response.text
    (answer,) = response.json()["explanations"]
    assert answer["words"] and len(answer["sentences"]) == 4
    first = answer["sentences"][0]
    alone = await client.post(
        "/predict",
        json={"text": REVIEW[first["start"] : first["end"]], "full_model": True},
    )
    assert first["probabilities"] == pytest.approx(
        alone.json()["predictions"][0]["probabilities"], abs=1e-6
    )
    assert answer["aggregate"]["sentences"] == 4


@pytestmark_anyio
async def test_explain_without_sentences_is_unchanged(client: httpx.AsyncClient) -> None:
    (answer,) = (await client.post("/explain", json={"text": REVIEW})).json()["explanations"]
    assert "sentences" not in answer


@pytestmark_anyio
async def test_the_mixed_threshold_setting_overrides_the_calibrated_one(
    bundles_root: Path,
) -> None:
    async with serving(create_app(make_settings(bundles_root, mixed_threshold=0.99))) as client:
        response = await client.post("/predict", json={"text": REVIEW, "sentences": True})
    aggregate = response.json()["predictions"][0]["aggregate"]
    assert aggregate["mixed_threshold"] == 0.99
    assert aggregate["mixed"] is (aggregate["mixed_score"] >= 0.99)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        st.sampled_from(list("ab 가요다.!?ㅋ\n<br/>😀\t\u3000\u00a0"))
        | st.characters(exclude_categories=("Cs",)),  # surrogates: 422 before any splitting
        max_size=80,
    ),
    language=st.sampled_from(["en", "ko"]),
)
def test_spans_are_ordered_trimmed_and_inside_the_text(text: str, language: str) -> None:
    spans = split_spans(text, language)
    at = 0
    for start, end in spans:
        assert at <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        at = end
    if text.strip() and "<br" not in text.lower():
        assert spans
