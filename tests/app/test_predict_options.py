"""POST /predict's caller controls: `top_k`, `raw_scores` and `truncation_direction`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.core.registry import LoadPlan, load_model
from model.text import TextEncoder

pytestmark = pytest.mark.anyio
HEAD = "wonderful superb moving film " * 40  # well over tiny-en's 96 tokens
TAIL = "dull awful boring mess " * 40


async def predict(client: httpx.AsyncClient, **body: object) -> dict:
    response = await client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]


async def test_top_k_lists_the_best_labels_best_first(client: httpx.AsyncClient) -> None:
    answer = await predict(client, text="What a great movie", top_k=2)
    probabilities = answer["probabilities"]
    best = sorted(probabilities, key=probabilities.__getitem__, reverse=True)[:2]
    assert [item["label"] for item in answer["top"]] == best
    assert [item["score"] for item in answer["top"]] == [probabilities[b] for b in best]
    assert "logits" not in answer


async def test_top_k_above_the_label_count_lists_every_label(client: httpx.AsyncClient) -> None:
    answer = await predict(client, text="fine", top_k=50)
    assert len(answer["top"]) == len(answer["probabilities"])


async def test_raw_scores_are_the_logits_whose_softmax_is_the_answer(
    client: httpx.AsyncClient,
) -> None:
    answer = await predict(client, text="What a great movie", raw_scores=True, top_k=3)
    logits = np.array(list(answer["logits"].values()))
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(probabilities, list(answer["probabilities"].values()), atol=1e-9)
    assert [t["score"] for t in answer["top"]] == sorted(logits.tolist(), reverse=True)


async def test_without_options_the_answer_is_unchanged(client: httpx.AsyncClient) -> None:
    answer = await predict(client, text="What a great movie")
    assert "top" not in answer and "logits" not in answer


@pytest.mark.parametrize(
    ("direction", "kept"), [("right", HEAD), ("Right", HEAD), ("left", TAIL), ("Left", TAIL)]
)
async def test_truncation_direction_picks_the_side_that_is_kept(
    client: httpx.AsyncClient, direction: str, kept: str
) -> None:
    both = await predict(client, text=HEAD + TAIL, truncation_direction=direction)
    alone = await predict(client, text=kept, truncation_direction=direction)
    assert both["truncated"] and both["tokens"] == 96
    assert both["probabilities"] == alone["probabilities"]


async def test_directions_differ_and_default_keeps_head_and_tail(
    client: httpx.AsyncClient,
) -> None:
    text = HEAD + TAIL
    answers = [await predict(client, text=text, truncation_direction=d) for d in ("left", "right")]
    default = await predict(client, text=text)
    probabilities = [a["probabilities"] for a in [*answers, default]]
    assert len({tuple(p.values()) for p in probabilities}) == 3


async def test_requests_with_different_directions_batched_together_keep_their_own(
    client: httpx.AsyncClient,
) -> None:
    short_head, short_tail = HEAD[:300], TAIL[:300]  # short texts: tokenized in the batch worker
    text = short_head + short_tail
    bodies = [{"text": text, "truncation_direction": d} for d in ("left", "right")] * 4
    together = await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))
    for body, response in zip(bodies, together, strict=True):
        answer, alone = response.json()["predictions"][0], await predict(client, **body)
        assert answer["tokens"] == alone["tokens"] and answer["label"] == alone["label"]
        got, want = answer["probabilities"], alone["probabilities"]
        assert got == pytest.approx(want, abs=1e-5)  # float32 rows batched differently


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x", "top_k": 0},
        {"text": "x", "top_k": "2"},
        {"text": "x", "top_k": True},
        {"text": "x", "raw_scores": "yes"},
        {"text": "x", "truncation_direction": "middle"},
    ],
)
async def test_invalid_options_are_refused(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["type"] == "invalid_input"


@pytest.fixture(scope="module")
def tiny_en_encoder(bundles_root: Path) -> TextEncoder:
    return load_model(bundles_root / "tiny-en", LoadPlan("fp32")).encoder


def test_encoder_keeps_the_first_or_last_tokens(tiny_en_encoder: TextEncoder) -> None:
    ids = tiny_en_encoder.tokenizer.encode(HEAD + TAIL, add_special_tokens=False).ids
    limit = tiny_en_encoder.truncation.max_length
    assert tiny_en_encoder.encode(HEAD + TAIL, "right").ids == ids[:limit]
    assert tiny_en_encoder.encode(HEAD + TAIL, "left").ids == ids[-limit:]
    assert tiny_en_encoder.encode(HEAD + TAIL, "left").tokens[-1].endswith("mess")


async def test_a_whole_float_is_a_count_as_json_schema_says(client: httpx.AsyncClient) -> None:
    answer = await predict(client, text="What a great movie", top_k=2.0)
    assert len(answer["top"]) == 2
    refused = await client.post("/predict", json={"text": "x", "top_k": 2.5})
    assert refused.status_code == 422
