"""Open Inference Protocol (KServe v2) REST routes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.unit]


def infer_body(texts: list[Any], **extra: Any) -> dict[str, Any]:
    tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}
    return {"inputs": [tensor], **extra}


async def test_server_live_ready_and_metadata(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/health/live")).json() == {"live": True}
    assert (await client.get("/v2/health/ready")).json() == {"ready": True}
    metadata = (await client.get("/v2")).json()
    assert set(metadata) == {"name", "version", "extensions"}


async def test_model_metadata_describes_tensors(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v2/models/tiny-en")).json()
    assert body["name"] == "tiny-en" and body["platform"] == "onnxruntime_onnx"
    assert body["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]} in body["outputs"]


async def test_model_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/models/tiny-ko/ready")
    assert response.status_code == 200 and response.json() == {"name": "tiny-ko", "ready": True}


async def test_model_ready_is_503_while_draining(client: httpx.AsyncClient) -> None:
    client._transport.app.state.service.start_draining()  # type: ignore[attr-defined]
    assert (await client.get("/v2/models/tiny-ko/ready")).status_code == 503
    assert (await client.get("/v2/health/ready")).status_code == 503


async def test_infer_answers_probabilities_and_labels(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/models/tiny-en/infer", json=infer_body(["good", "bad"]))
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "tiny-en" and body["model_version"] == "1.0.0"
    outputs = {o["name"]: o for o in body["outputs"]}
    probs = outputs["probabilities"]
    assert (probs["datatype"], probs["shape"]) == ("FP32", [2, 3]) and len(probs["data"]) == 6
    assert sum(probs["data"][:3]) == pytest.approx(1.0, abs=1e-6)
    labels = outputs["label"]
    assert (labels["datatype"], labels["shape"]) == ("BYTES", [2])
    assert set(labels["data"]) <= {"negative", "neutral", "positive"}


async def test_infer_matches_predict(client: httpx.AsyncClient) -> None:
    v2 = (await client.post("/v2/models/tiny-en/infer", json=infer_body(["great fun"]))).json()
    own = (await client.post("/predict", json={"text": "great fun"})).json()["predictions"][0]
    outputs = {o["name"]: o["data"] for o in v2["outputs"]}
    assert outputs["label"] == [own["label"]]
    assert outputs["probabilities"] == pytest.approx(list(own["probabilities"].values()))


async def test_id_is_echoed_else_the_request_id(client: httpx.AsyncClient) -> None:
    given = await client.post("/v2/models/tiny-en/infer", json=infer_body(["ok"], id="42"))
    assert given.json()["id"] == "42"
    headers = {"x-request-id": "abc"}
    generated = await client.post(
        "/v2/models/tiny-en/infer", json=infer_body(["ok"]), headers=headers
    )
    assert generated.json()["id"] == "abc"


async def test_requested_outputs_only(client: httpx.AsyncClient) -> None:
    body = infer_body(["ok"], outputs=[{"name": "label", "parameters": {"binary_data": False}}])
    response = await client.post("/v2/models/tiny-en/infer", json=body)
    assert [o["name"] for o in response.json()["outputs"]] == ["label"]


async def test_nested_data_and_n_by_1_shape(client: httpx.AsyncClient) -> None:
    tensor = {"name": "text", "shape": [2, 1], "datatype": "BYTES", "data": [["good"], ["bad"]]}
    response = await client.post("/v2/models/tiny-en/infer", json={"inputs": [tensor]})
    assert response.status_code == 200


async def test_truncate_parameter(client: httpx.AsyncClient) -> None:
    body = infer_body(["great film " * 100], parameters={"truncate": False})
    assert (await client.post("/v2/models/tiny-en/infer", json=body)).status_code == 413


async def test_version_routes(client: httpx.AsyncClient) -> None:
    ok = await client.post("/v2/models/tiny-en/versions/1.0.0/infer", json=infer_body(["ok"]))
    assert ok.status_code == 200
    assert (await client.get("/v2/models/tiny-en/versions/1.0.0")).status_code == 200
    assert (await client.get("/v2/models/tiny-en/versions/1.0.0/ready")).status_code == 200
    missing = await client.get("/v2/models/tiny-en/versions/9")
    assert missing.status_code == 404 and "1.0.0" in missing.json()["error"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}, "named"),
        ({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]}, "BYTES"),
        ({"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": ["a"]}]}, "shape"),
        ({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [1]}]}, "strings"),
        ({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [" "]}]}, "empty"),
        ({"inputs": []}, "inputs"),
        ({**infer_body(["a"]), "outputs": [{"name": "logits"}]}, "unknown outputs"),
        ({**infer_body(["a"]), "extra": 1}, "unknown field"),
        ({**infer_body(["a"]), "parameters": {"truncate": "no"}}, "truncate"),
    ],
)
async def test_bad_requests_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    response = await client.post("/v2/models/tiny-en/infer", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["error"]


async def test_unknown_model_is_404_with_error_field(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/v2/models/nope"),
        await client.get("/v2/models/nope/ready"),
        await client.post("/v2/models/nope/infer", json=infer_body(["a"])),
    ):
        assert response.status_code == 404
        assert "tiny-en" in response.json()["error"]


async def test_sentences_parameter_adds_a_bytes_output_of_json_documents(
    client: httpx.AsyncClient,
) -> None:
    text = "Great acting. Awful plot!"
    body = infer_body([text, "fine"], parameters={"sentences": True})
    response = await client.post("/v2/models/tiny-en/infer", json=body)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert list(outputs) == ["probabilities", "label", "sentences"]
    tensor = outputs["sentences"]
    assert (tensor["datatype"], tensor["shape"]) == ("BYTES", [2])
    first = json.loads(tensor["data"][0])
    own = (await client.post("/predict", json={"text": text, "sentences": True})).json()
    assert first["sentences"] == own["predictions"][0]["sentences"]
    assert first["aggregate"] == own["predictions"][0]["aggregate"]


async def test_naming_the_sentences_output_asks_for_it(client: httpx.AsyncClient) -> None:
    body = infer_body(["Great. Bad."], outputs=[{"name": "sentences"}])
    response = await client.post("/v2/models/tiny-ko/infer", json=body)
    (tensor,) = response.json()["outputs"]
    assert len(json.loads(tensor["data"][0])["sentences"]) == 2


async def test_sentences_parameter_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    body = infer_body(["a"], parameters={"sentences": "yes"})
    response = await client.post("/v2/models/tiny-en/infer", json=body)
    assert response.status_code == 422 and "sentences" in response.json()["error"]
