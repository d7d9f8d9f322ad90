"""POST /predict and POST / in the shapes of Hugging Face TEI and the Inference API, in process.
(tests/app/test_hf_clients.py drives the real `huggingface_hub` client against a server.)"""

from __future__ import annotations

import math

import httpx
import pytest

pytestmark = pytest.mark.anyio
TEXTS = ["What a great movie", "dull and far too long"]


async def native(client: httpx.AsyncClient, text: str, **options: object) -> dict:
    body = {"text": text, "raw_scores": True, **options}
    return (await client.post("/predict", json=body)).json()["predictions"][0]


def best_first(scores: dict[str, float]) -> list[dict]:
    order = sorted(scores, key=scores.__getitem__, reverse=True)
    return [{"score": scores[label], "label": label} for label in order]


async def test_tei_one_text_gets_one_list_best_first(client: httpx.AsyncClient) -> None:
    for inputs in (TEXTS[0], [TEXTS[0]]):
        response = await client.post("/predict", json={"inputs": inputs})
        assert response.status_code == 200
        assert response.json() == best_first((await native(client, TEXTS[0]))["probabilities"])
        assert "x-inference-time" in response.headers


async def test_tei_batch_gets_a_list_per_text(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"inputs": [[t] for t in TEXTS]})
    want = [best_first((await native(client, t))["probabilities"]) for t in TEXTS]
    got = response.json()
    assert [[i["label"] for i in r] for r in got] == [[i["label"] for i in r] for r in want]
    for row, expected in zip(got, want, strict=True):
        assert [i["score"] for i in row] == pytest.approx([i["score"] for i in expected])


async def test_tei_raw_scores_are_the_logits(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"inputs": TEXTS[0], "raw_scores": True})
    assert response.json() == best_first((await native(client, TEXTS[0]))["logits"])


async def test_tei_truncation_options(client: httpx.AsyncClient) -> None:
    text = "wonderful superb film " * 60 + "dull awful mess " * 60
    for direction in ("Left", "Right"):
        body = {"inputs": text, "truncate": True, "truncation_direction": direction}
        got = (await client.post("/predict", json=body)).json()
        want = await native(client, text, truncation_direction=direction.lower())
        assert got == best_first(want["probabilities"])
    refused = await client.post("/predict", json={"inputs": text, "truncate": False})
    assert refused.status_code == 413


@pytest.mark.parametrize(
    ("inputs", "words"),
    [(["a", "b"], "text pair"), ([["a", "b"]], "text pair"), ([], "empty"), (["a"] * 3, "3")],
)
async def test_tei_pairs_and_odd_lists_are_refused_clearly(
    client: httpx.AsyncClient, inputs: list, words: str
) -> None:
    response = await client.post("/predict", json={"inputs": inputs})
    assert response.status_code == 422
    assert words in response.json()["error"]


@pytest.mark.parametrize("path", ["/", "/predict"])
async def test_inference_api_shape_always_answers_a_list_per_text(
    client: httpx.AsyncClient, path: str
) -> None:
    one = await client.post(path, json={"inputs": TEXTS[0], "parameters": {}})
    assert one.json() == [best_first((await native(client, TEXTS[0]))["probabilities"])]
    many = await client.post(path, json={"inputs": TEXTS, "parameters": {"top_k": 1}})
    assert [len(row) for row in many.json()] == [1, 1]


async def test_inference_api_function_to_apply(client: httpx.AsyncClient) -> None:
    logits = (await native(client, TEXTS[0]))["logits"]
    for function, transform in (
        ("none", lambda z: z),
        ("sigmoid", lambda z: 1 / (1 + math.exp(-z))),
    ):
        body = {"inputs": TEXTS[0], "parameters": {"function_to_apply": function}}
        (row,) = (await client.post("/", json=body)).json()
        want = best_first({label: transform(z) for label, z in logits.items()})
        assert [i["label"] for i in row] == [i["label"] for i in want]
        assert [i["score"] for i in row] == pytest.approx([i["score"] for i in want])


async def test_native_bodies_and_the_playground_are_unchanged(client: httpx.AsyncClient) -> None:
    assert (await client.post("/", json={"text": "fine"})).json()["predictions"]
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


async def test_openapi_describes_every_body_shape(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path in ("/predict", "/"):
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        names = [ref["$ref"].rsplit("/", 1)[1] for ref in schema["schema"]["oneOf"]]
        assert names == ["PredictRequest", "TeiPredictRequest", "InferenceApiRequest"]
        assert all(name in document["components"]["schemas"] for name in names)


async def test_a_native_body_holding_the_text_inputs_stays_native(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/predict", json={"texts": ["inputs", "fine"]})
    assert len(response.json()["predictions"]) == 2
    mixed = await client.post("/predict", json={"inputs": "x", "text": "y"})
    assert mixed.status_code == 422 and "text" in mixed.json()["error"]


async def test_a_wrong_method_on_the_root_lists_both_of_its_methods(
    client: httpx.AsyncClient,
) -> None:
    response = await client.request("DELETE", "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
