"""Calls of Triton's gRPC client (`tritonclient.grpc`), run in a process of their own.

tritonclient registers the `inference.*` messages from its own `grpc_service.proto`; the service's
stubs and kserve's register the same names from `grpc_predict_v2.proto`, and one protobuf
descriptor pool cannot hold both. So the test runs this file with `python -m` and reads the JSON
it prints: `python -m tests.app.triton_grpc_calls HOST:PORT`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

TEXTS = ["a wonderful, moving film", "dull and much too long", "fine"]


def text_input(texts: list[str]) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=object))
    return tensor


def status_of(call: Callable[[], Any]) -> str:
    try:
        call()
    except InferenceServerException as error:
        return str(error.status())
    return "OK"


def calls(client: grpcclient.InferenceServerClient) -> dict[str, Any]:
    result = client.infer("tiny-en", [text_input(TEXTS)])
    metadata = client.get_model_metadata("tiny-en", as_json=True)
    return {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("tiny-en"),
        "extensions": client.get_server_metadata(as_json=True)["extensions"],
        "outputs": [o["name"] for o in metadata["outputs"]],
        "labels": [label.decode() for label in result.as_numpy("label").tolist()],
        "probabilities": result.as_numpy("probabilities").tolist(),
        "unknown_model": status_of(lambda: client.infer("nope", [text_input(["a"])])),
        "empty": status_of(lambda: client.infer("tiny-en", [text_input([])])),
        "queue_full": status_of(lambda: client.infer("tiny-en", [text_input(["a"] * 5)])),
    }


if __name__ == "__main__":
    print(json.dumps(calls(grpcclient.InferenceServerClient(url=sys.argv[1]))))
