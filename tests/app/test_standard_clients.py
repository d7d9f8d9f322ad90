"""The Open Inference Protocol as the standard clients speak it, unmodified, from PyPI: Triton's
`tritonclient.http` (binary tensors by default, and JSON only) and `tritonclient.grpc`, and
KServe's `InferenceRESTClient` and `InferenceGRPCClient`, against a real server process.

The server's queue holds 4 texts, so 5 texts in one request find it full."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.factories import REPO
from tests.support import free_port, server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TEXTS = ["a wonderful, moving film", "dull and much too long", "fine"]


class Server:
    def __init__(self, base: str, grpc_address: str) -> None:
        self.base = base
        self.http_address = base.removeprefix("http://")
        self.grpc_address = grpc_address


@pytest.fixture(scope="module")
def live(bundles_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("clients") / "log"
    env = {"SENTIMENT_GRPC_PORT": str(port), "SENTIMENT_MAX_QUEUE": "4"}
    with server(bundles_root, log, **env) as (_process, base):
        asyncio.run(wait_until(f"{base}/ready", 200, timeout=60))
        yield Server(base, f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def expected(live: Server) -> list[dict[str, Any]]:
    """The service's own answers for TEXTS, which every client must get."""
    response = httpx.post(f"{live.base}/predict", json={"texts": TEXTS})
    return response.json()["predictions"]


def check_answers(labels: list[str], probabilities: Any, expected: list[dict]) -> None:
    assert labels == [p["label"] for p in expected]
    want = [list(p["probabilities"].values()) for p in expected]
    np.testing.assert_allclose(np.asarray(probabilities, dtype=float), want, atol=1e-5)


# --- tritonclient.http ---


def triton_input(texts: list[str], binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=object), binary)
    return tensor


def test_triton_http_probes_and_metadata(live: Server) -> None:
    client = httpclient.InferenceServerClient(url=live.http_address)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("tiny-en")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.get_model_metadata("tiny-en")["inputs"][0]["datatype"] == "BYTES"


@pytest.mark.parametrize("binary", [True, False], ids=["defaults-binary", "json-only"])
def test_triton_http_infers_a_batch(live: Server, expected: list[dict], binary: bool) -> None:
    client = httpclient.InferenceServerClient(url=live.http_address)
    outputs = None
    if not binary:
        outputs = [
            httpclient.InferRequestedOutput(n, binary_data=False)
            for n in ("label", "probabilities")
        ]
    result = client.infer("tiny-en", [triton_input(TEXTS, binary)], outputs=outputs)
    labels = [text_of(label) for label in result.as_numpy("label").tolist()]
    check_answers(labels, result.as_numpy("probabilities"), expected)


def test_triton_http_reads_the_sentences_output(live: Server) -> None:
    client = httpclient.InferenceServerClient(url=live.http_address)
    outputs = [httpclient.InferRequestedOutput(n) for n in ("label", "sentences")]
    text = "Great acting. Awful plot!"
    result = client.infer("tiny-en", [triton_input([text], True)], outputs=outputs)
    (document,) = [json.loads(text_of(d)) for d in result.as_numpy("sentences").tolist()]
    spans = [text[s["start"] : s["end"]] for s in document["sentences"]]
    assert spans == ["Great acting.", "Awful plot!"]
    assert document["aggregate"]["sentences"] == 2


@pytest.mark.parametrize(
    ("model", "texts", "status"),
    [("nope", ["a"], "404"), ("tiny-en", [], "422"), ("tiny-en", ["a"] * 5, "429")],
    ids=["unknown-model", "empty-input", "queue-full"],
)
def test_triton_http_errors(live: Server, model: str, texts: list[str], status: str) -> None:
    client = httpclient.InferenceServerClient(url=live.http_address)
    with pytest.raises(InferenceServerException) as raised:
        client.infer(model, [triton_input(texts, binary=True)])
    assert raised.value.status() == status and raised.value.message()


# --- tritonclient.grpc (in its own process: see triton_grpc_calls) ---


@pytest.fixture(scope="module")
def triton_grpc(live: Server) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.app.triton_grpc_calls", live.grpc_address]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_triton_grpc_probes_metadata_and_batch(
    triton_grpc: dict[str, Any], expected: list[dict]
) -> None:
    assert triton_grpc["live"] and triton_grpc["ready"] and triton_grpc["model_ready"]
    assert "binary_tensor_data" in triton_grpc["extensions"]
    assert triton_grpc["outputs"] == ["probabilities", "label"]
    check_answers(triton_grpc["labels"], triton_grpc["probabilities"], expected)


def test_triton_grpc_errors(triton_grpc: dict[str, Any]) -> None:
    assert triton_grpc["unknown_model"] == "StatusCode.NOT_FOUND"
    assert triton_grpc["empty"] == "StatusCode.INVALID_ARGUMENT"
    assert triton_grpc["queue_full"] == "StatusCode.RESOURCE_EXHAUSTED"


# --- KServe's clients ---


def kserve() -> Any:
    """The kserve package, imported by the tests that use it: it takes ~1 s to import, which
    every `pytest` start would pay at collection, `-m "not slow"` included."""
    import kserve as package

    return package


def kserve_request(texts: list[str], model: str = "tiny-en") -> Any:
    tensor = kserve().InferInput(name="text", shape=[len(texts)], datatype="BYTES", data=texts)
    return kserve().InferRequest(model_name=model, infer_inputs=[tensor])


def text_of(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def kserve_answers(response: Any) -> tuple[list[str], Any]:
    """As KServe's docs read a response: each output's as_numpy()."""
    outputs = {o.name: o.as_numpy() for o in response.outputs}
    labels = [text_of(v) for v in outputs["label"].tolist()]
    return labels, outputs["probabilities"].reshape(len(labels), -1)


@pytest.mark.anyio
async def test_kserve_rest_client(live: Server, expected: list[dict]) -> None:
    client = kserve().InferenceRESTClient(kserve().RESTConfig(protocol="v2", retries=0))
    assert await client.is_server_live(live.base) and await client.is_server_ready(live.base)
    assert await client.is_model_ready(live.base, "tiny-en")
    response = await client.infer(live.base, kserve_request(TEXTS), model_name="tiny-en")
    check_answers(*kserve_answers(response), expected)
    for model, texts, status in (
        ("nope", ["a"], 404),
        ("tiny-en", [], 422),
        ("tiny-en", ["a"] * 5, 429),
    ):
        with pytest.raises(httpx.HTTPStatusError) as raised:
            await client.infer(live.base, kserve_request(texts, model), model_name=model)
        assert raised.value.response.status_code == status
    await client.close()


@pytest.mark.anyio
async def test_kserve_grpc_client(live: Server, expected: list[dict]) -> None:
    async with kserve().InferenceGRPCClient(live.grpc_address, retries=0) as client:
        assert await client.is_server_live() and await client.is_server_ready()
        assert await client.is_model_ready("tiny-en")
        check_answers(*kserve_answers(await client.infer(kserve_request(TEXTS))), expected)
        codes = (
            ("nope", ["a"], grpc.StatusCode.NOT_FOUND),
            ("tiny-en", [], grpc.StatusCode.INVALID_ARGUMENT),
            ("tiny-en", ["a"] * 5, grpc.StatusCode.RESOURCE_EXHAUSTED),
        )
        for model, texts, code in codes:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await client.infer(kserve_request(texts, model))
            assert raised.value.code() == code
