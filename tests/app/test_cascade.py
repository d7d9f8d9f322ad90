"""The served cascade over HTTP: which path answered, the same answer alone and in a batch, the
per-request and service-wide ways to the full model, and the metrics of both paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.registry import LoadPlan, load_model
from app.core.scoring import bucketed_probabilities
from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
TEXTS = [
    "awful",
    "A wonderful film with great acting and a moving story. " * 6,
    "fine",
    "terrible waste of time",
    "meh, it was ok I guess",
    "best day ever!!! :)",
]


@pytest.fixture
def cascade_dir(model_dir: Path) -> Path:
    """tiny-en with its threshold moved to the median fast-graph confidence on TEXTS, so that
    about half of them take each path (a tiny model's own threshold may send all one way)."""
    worker = load_model(model_dir / "tiny-en", LoadPlan("fp32"))
    assert worker.scorer.fast is not None, "tiny-en is built with a cascade"
    rows = [e.ids for e in worker.encoder.encode_batch(TEXTS)]
    confidence = bucketed_probabilities(worker.scorer.fast, rows).max(axis=1)
    path = model_dir / "tiny-en" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["cascade"]["threshold"] = float(np.median(confidence))
    path.write_text(json.dumps(manifest))
    return model_dir


async def predict(client, body: dict) -> list[dict]:
    response = await client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


async def test_both_paths_are_reported(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        predictions = await predict(client, {"texts": TEXTS})
    assert {p["path"] for p in predictions} == {"fast", "full"}


async def test_a_text_gets_the_same_answer_alone_and_in_a_batch(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        together = await predict(client, {"texts": TEXTS})
        alone = [(await predict(client, {"text": text}))[0] for text in TEXTS]
    for one, batched in zip(alone, together, strict=True):
        assert (one["path"], one["label"]) == (batched["path"], batched["label"])
        for label, p in one["probabilities"].items():
            assert batched["probabilities"][label] == pytest.approx(p, abs=1e-5)


async def test_full_model_option_forces_the_full_graph(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        predictions = await predict(client, {"texts": TEXTS, "full_model": True})
    assert {p["path"] for p in predictions} == {"full"}


async def test_cascade_setting_off_answers_everything_in_full(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir, cascade=False))) as client:
        predictions = await predict(client, {"texts": TEXTS})
        models = (await client.get("/models")).json()["models"]
    assert {p["path"] for p in predictions} == {"full"}
    english = next(m for m in models if m["name"] == "tiny-en")
    assert english["cascade"]["active"] is False


async def test_metrics_count_the_texts_of_each_path(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        predictions = await predict(client, {"texts": TEXTS})
        metrics = (await client.get("/metrics")).text
    fast = sum(p["path"] == "fast" for p in predictions)
    assert f'sentiment_cascade_texts_total{{model="tiny-en",path="fast"}} {float(fast)}' in metrics
    full = len(TEXTS) - fast
    assert f'sentiment_cascade_texts_total{{model="tiny-en",path="full"}} {float(full)}' in metrics


async def test_a_bundle_without_a_cascade_answers_in_full(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        predictions = await predict(
            client, {"texts": ["정말 재미있어요", "별로"], "model": "tiny-ko"}
        )
        models = (await client.get("/models")).json()["models"]
    assert [p["path"] for p in predictions] == ["full", "full"]
    assert next(m for m in models if m["name"] == "tiny-ko")["cascade"] is None


async def test_three_labels_are_answered(cascade_dir: Path) -> None:
    async with serving(create_app(make_settings(cascade_dir))) as client:
        (prediction,) = await predict(client, {"text": "it is a film"})
    assert list(prediction["probabilities"]) == ["negative", "neutral", "positive"]
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)


async def test_v2_infer_takes_the_full_model_parameter(cascade_dir: Path) -> None:
    body = {"inputs": [{"name": "text", "shape": [len(TEXTS)], "datatype": "BYTES", "data": TEXTS}]}
    async with serving(create_app(make_settings(cascade_dir))) as client:
        forced = await client.post(
            "/v2/models/tiny-en/infer", json={**body, "parameters": {"full_model": True}}
        )
        wrong = await client.post(
            "/v2/models/tiny-en/infer", json={**body, "parameters": {"full_model": "yes"}}
        )
        metrics = (await client.get("/metrics")).text
    assert forced.status_code == 200
    full = f'sentiment_cascade_texts_total{{model="tiny-en",path="full"}} {float(len(TEXTS))}'
    assert full in metrics
    assert wrong.status_code == 422 and "full_model" in wrong.json()["error"]


async def test_texts_shorter_than_min_tokens_never_try_the_fast_graph(model_dir: Path) -> None:
    # threshold 0: every text that tries the fast graph is answered there, so the path shows
    # exactly which texts tried it
    worker = load_model(model_dir / "tiny-en", LoadPlan("fp32"))
    lengths = [len(e.ids) for e in worker.encoder.encode_batch(TEXTS)]
    shortest = sorted(lengths)[len(lengths) // 2]
    path = model_dir / "tiny-en" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["cascade"] |= {"threshold": 0.0, "min_tokens": shortest}
    path.write_text(json.dumps(manifest))
    async with serving(create_app(make_settings(model_dir))) as client:
        predictions = await predict(client, {"texts": TEXTS})
        described = (await client.get("/models")).json()["models"][0]["cascade"]
    expected = ["fast" if n >= shortest else "full" for n in lengths]
    assert [p["path"] for p in predictions] == expected
    assert {"fast", "full"} == set(expected)
    assert described["min_tokens"] == shortest
