"""The binary tensor data extension (Triton's format) and the fields standard v2 clients send."""

from __future__ import annotations

import json
import struct
from typing import Any

import httpx
import numpy as np
import pytest

from app.core.errors import MalformedBody
from app.main import create_app
from app.v2.tensor_codec import HEADER, decode_bytes_tensor, encode_bytes_tensor
from tests.app.conftest import make_settings, serving

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
URL = "/v2/models/tiny-en/infer"
TEXTS = ["a wonderful film", "dull and much too long"]


def binary_body(texts: list[str], **extra: Any) -> tuple[bytes, dict[str, str]]:
    """A request as tritonclient.http sends it by default: JSON header, then the tensor."""
    raw = encode_bytes_tensor(texts)
    tensor = {
        "name": "text",
        "shape": [len(texts)],
        "datatype": "BYTES",
        "parameters": {"binary_data_size": len(raw)},
    }
    head = json.dumps({"inputs": [tensor], **extra}).encode()
    return head + raw, {HEADER: str(len(head))}


def outputs_of(response: httpx.Response) -> dict[str, Any]:
    """Each output's values, read as tritonclient reads a binary answer."""
    size = response.headers.get(HEADER)
    head = json.loads(response.content[: int(size)] if size else response.content)
    at = int(size) if size else 0
    values = {}
    for output in head["outputs"]:
        if "data" in output:
            values[output["name"]] = output["data"]
            continue
        n = output["parameters"]["binary_data_size"]
        raw, at = response.content[at : at + n], at + n
        if output["datatype"] == "FP32":
            values[output["name"]] = np.frombuffer(raw, "<f4").tolist()
        else:
            values[output["name"]] = [b.decode() for b in decode_bytes_tensor(raw)]
    return values


def test_bytes_tensor_round_trips() -> None:
    texts = ["", "héllo", "x" * 300]
    assert decode_bytes_tensor(encode_bytes_tensor(texts)) == [t.encode() for t in texts]


@pytest.mark.parametrize(
    "raw", [b"\x05\x00\x00\x00abc", b"\x01\x00", b"\x00\x00\x00\x00\xff\xff\xff\xff"]
)
def test_length_prefixes_that_overrun_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        decode_bytes_tensor(raw)


async def test_binary_inputs_and_outputs_match_json(client: httpx.AsyncClient) -> None:
    content, headers = binary_body(TEXTS, parameters={"binary_data_output": True})
    binary = await client.post(URL, content=content, headers=headers)
    assert binary.status_code == 200, binary.text
    assert binary.headers["content-type"] == "application/octet-stream"
    tensor = {"name": "text", "shape": [2], "datatype": "BYTES", "data": TEXTS}
    plain = await client.post(URL, json={"inputs": [tensor]})
    assert plain.headers["content-type"] == "application/json"
    got, want = outputs_of(binary), outputs_of(plain)
    assert got["label"] == want["label"]
    assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)


async def test_outputs_mix_binary_and_json(client: httpx.AsyncClient) -> None:
    outputs = [
        {"name": "label", "parameters": {"binary_data": False}},
        {"name": "probabilities", "parameters": {"binary_data": True}},
    ]
    content, headers = binary_body(TEXTS, outputs=outputs)
    response = await client.post(URL, content=content, headers=headers)
    head = json.loads(response.content[: int(response.headers[HEADER])])
    by_name = {o["name"]: o for o in head["outputs"]}
    assert "data" in by_name["label"] and "data" not in by_name["probabilities"]
    labels = by_name["probabilities"]["shape"][1]  # tiny-en: negative, neutral, positive
    assert by_name["probabilities"]["parameters"] == {"binary_data_size": 2 * labels * 4}
    assert len(outputs_of(response)["probabilities"]) == 2 * labels


async def test_binary_input_with_json_answer(client: httpx.AsyncClient) -> None:
    content, headers = binary_body(TEXTS)
    response = await client.post(URL, content=content, headers=headers)
    assert response.status_code == 200 and HEADER not in response.headers
    assert len(response.json()["outputs"][1]["data"]) == 2


def _overrun() -> tuple[bytes, dict[str, str]]:
    content, headers = binary_body(["abc"])
    return content[:-1], headers  # one byte short of what binary_data_size says


def _prefix_past_end() -> tuple[bytes, dict[str, str]]:
    raw = b"\xff\x00\x00\x00abc"
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES"}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    head = json.dumps({"inputs": [tensor]}).encode()
    return head + raw, {HEADER: str(len(head))}


def _header_past_body() -> tuple[bytes, dict[str, str]]:
    content, _ = binary_body(["abc"])
    return content, {HEADER: str(len(content) + 1)}


def _size_without_header() -> tuple[bytes, dict[str, str]]:
    content, headers = binary_body(["abc"])
    head = content[: int(headers[HEADER])]
    return head, {"content-type": "application/json"}


def _not_a_number() -> tuple[bytes, dict[str, str]]:
    content, _ = binary_body(["abc"])
    return content, {HEADER: "12abc"}


@pytest.mark.parametrize(
    "build", [_overrun, _prefix_past_end, _header_past_body, _size_without_header, _not_a_number]
)
async def test_malformed_binary_bodies_are_400(client: httpx.AsyncClient, build: Any) -> None:
    content, headers = build()
    response = await client.post(URL, content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "malformed_body"


async def test_non_utf8_text_is_422(client: httpx.AsyncClient) -> None:
    raw = struct.pack("<I", 2) + b"\xff\xfe"
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES"}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    head = json.dumps({"inputs": [tensor]}).encode()
    response = await client.post(URL, content=head + raw, headers={HEADER: str(len(head))})
    assert response.status_code == 422 and "UTF-8" in response.json()["error"]


async def test_body_limit_applies_before_the_binary_split(bundles_root: Any) -> None:
    app = create_app(make_settings(bundles_root, max_body_bytes=200))
    async with serving(app) as client:
        content, headers = binary_body(["x" * 300])
        response = await client.post(URL, content=content, headers=headers)
    assert response.status_code == 413


async def test_server_metadata_lists_the_extension(client: httpx.AsyncClient) -> None:
    assert "binary_tensor_data" in (await client.get("/v2")).json()["extensions"]


@pytest.mark.parametrize(
    "extra",
    [
        {"model_name": "tiny-en", "model_version": "1.0.0", "id": "7"},
        {"parameters": None, "outputs": None, "id": None},
        {"outputs": [{"name": "label", "parameters": None}]},
        {"parameters": {"binary_data_output": False, "anything": [1]}},
    ],
)
async def test_fields_standard_clients_send_are_accepted(
    client: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["ok"]}
    tensor["parameters"] = None
    response = await client.post(URL, json={"inputs": [tensor], **extra})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ["/predict", "/tokenize"])
@pytest.mark.parametrize("body", [{"text": "ok", "texts": None}, {"text": None, "texts": ["ok"]}])
async def test_null_text_fields_are_refused(
    client: httpx.AsyncClient, route: str, body: dict[str, Any]
) -> None:
    response = await client.post(route, json=body)
    assert response.status_code == 422 and "null" in response.json()["error"]


async def test_the_sentences_output_travels_as_binary_data(client: httpx.AsyncClient) -> None:
    texts = ["Great acting. Awful plot!", "fine"]
    parameters = {"binary_data_output": True, "sentences": True}
    content, headers = binary_body(texts, parameters=parameters)
    binary = await client.post(URL, content=content, headers=headers)
    assert binary.status_code == 200, binary.text
    tensor = {"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}
    plain = await client.post(URL, json={"inputs": [tensor], "parameters": {"sentences": True}})
    got, want = outputs_of(binary), outputs_of(plain)
    assert [json.loads(d) for d in got["sentences"]] == [json.loads(d) for d in want["sentences"]]
    assert len(json.loads(got["sentences"][0])["sentences"]) == 2
