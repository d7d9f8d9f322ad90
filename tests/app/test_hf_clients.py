"""Hugging Face's clients, unmodified, from PyPI, against a real server process:
`huggingface_hub.InferenceClient.text_classification` given the service's base URL (it posts to
`/`) or its `/predict` URL, and TEI's classification route as TEI's clients send it over HTTP."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from tests.support import server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TEXT = "a wonderful, moving film"


@pytest.fixture(scope="module")
def base(bundles_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("hf-clients") / "log"
    with server(bundles_root, log, SENTIMENT_GRPC_ENABLED="false") as (_process, url):
        asyncio.run(wait_until(f"{url}/ready", 200, timeout=60))
        yield url


@pytest.fixture(scope="module")
def expected(base: str) -> dict:
    """The service's own answer for TEXT, with logits."""
    body = {"text": TEXT, "raw_scores": True}
    return httpx.post(f"{base}/predict", json=body).json()["predictions"][0]


def ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> bool:
    labels = [label for label, _ in got] == [label for label, _ in want]
    return labels and [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)


@pytest.mark.parametrize("suffix", ["", "/predict"], ids=["base-url", "predict-url"])
def test_text_classification_gets_every_label_best_first(
    base: str, expected: dict, suffix: str
) -> None:
    answer = InferenceClient(base_url=base + suffix).text_classification(TEXT)
    got = [(element.label, element.score) for element in answer]
    assert same(got, ranked(expected["probabilities"]))


def test_text_classification_top_k_and_function_to_apply(base: str, expected: dict) -> None:
    client = InferenceClient(base_url=base)
    (best,) = client.text_classification(TEXT, top_k=1)
    assert best.label == expected["label"]
    raw = client.text_classification(TEXT, function_to_apply="none")
    assert same([(e.label, e.score) for e in raw], ranked(expected["logits"]))
    sigmoid = client.text_classification(TEXT, function_to_apply="sigmoid")
    want = {label: 1 / (1 + math.exp(-z)) for label, z in expected["logits"].items()}
    assert [e.score for e in sigmoid] == pytest.approx([s for _, s in ranked(want)])


def test_text_classification_errors_surface_as_the_clients_http_error(base: str) -> None:
    with pytest.raises(HfHubHTTPError) as error:
        InferenceClient(base_url=base).text_classification(" ")
    assert error.value.response.status_code == 422


def test_tei_requests_get_tei_answers(base: str, expected: dict) -> None:
    one = httpx.post(f"{base}/predict", json={"inputs": TEXT, "truncate": True}).json()
    assert same([(i["label"], i["score"]) for i in one], ranked(expected["probabilities"]))
    body = {"inputs": [[TEXT], ["dull"]], "raw_scores": True, "truncation_direction": "Right"}
    batch = httpx.post(f"{base}/predict", json=body).json()
    assert len(batch) == 2
    assert same([(i["label"], i["score"]) for i in batch[0]], ranked(expected["logits"]))
