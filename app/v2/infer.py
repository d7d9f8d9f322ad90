"""One v2 inference, whatever carried it (REST JSON, REST binary, gRPC): the request's tensors
in, the answer's tensors out, through the one call into the model (`Service.classify`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from app import __version__
from app.core.context import StageTimes
from app.core.errors import MalformedBody
from app.core.limits import check_texts
from app.core.service import Service
from app.core.waiting import Disconnected
from app.v2.messages import SENTENCES_OUTPUT, InferenceRequest, RequestInput
from app.v2.openinference import (
    OUTPUTS,
    check_version,
    flag_of,
    output_tensors,
    requested_outputs,
    texts_of,
)
from app.v2.tensor_codec import EXTENSION, HEADER, binary_size, decode_texts, flag, slice_inputs

SERVER_NAME = "sentiment-service"
EXTENSIONS = [EXTENSION, "model_repository"]  # app/core/repository.py; off unless model control


@dataclass(slots=True)
class Inferred:
    answer: dict[str, Any]  # model_name, model_version, id, outputs (tensors with JSON data)
    times: StageTimes


def server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}


async def never() -> None:
    """A disconnect probe for callers whose cancellation already cancels the request (gRPC)."""
    await asyncio.get_running_loop().create_future()


async def infer(
    service: Service,
    body: InferenceRequest,
    name: str,
    version: str | None,
    request_id: str,
    disconnected: Disconnected = never,
) -> Inferred:
    model = service.model(name)
    check_version(model, version)
    texts = texts_of(body)
    outputs = requested_outputs(body)
    check_texts(texts, service.limits)
    options = (model, texts, flag_of(body, "truncate"), flag_of(body, "full_model"), disconnected)
    analyses = None
    if SENTENCES_OUTPUT in outputs:
        result, analyses = await service.classify_sentences(*options)
    else:
        result = await service.classify(*options)
    probs = [s.probabilities for s in result.scored]
    answer = {
        "model_name": model.name,
        "model_version": model.bundle.manifest.version,
        "id": body.id if body.id is not None else request_id,
        "outputs": output_tensors(outputs, model.labels, probs, analyses),
    }
    return Inferred(answer, result.times)


def _with_binary(tensor: RequestInput, raw: bytes | None) -> RequestInput:
    if raw is None:
        return tensor
    if tensor.data is not None:
        raise MalformedBody(f'input "{tensor.name}" has both data and binary_data_size')
    data = decode_texts(raw) if tensor.datatype == "BYTES" else []
    return tensor.model_copy(update={"data": data})


def with_binary_inputs(body: InferenceRequest, tail: bytes | None) -> InferenceRequest:
    """The request with each binary input's texts in its `data`, checked against the tail."""
    sizes = [binary_size(tensor.parameters) for tensor in body.inputs]
    if tail is None:
        if any(size is not None for size in sizes):
            raise MalformedBody(f"inputs give binary_data_size but the request has no {HEADER}")
        return body
    parts = slice_inputs(sizes, tail)
    inputs = [_with_binary(t, raw) for t, raw in zip(body.inputs, parts, strict=True)]
    return body.model_copy(update={"inputs": inputs})


def binary_outputs(body: InferenceRequest) -> set[str]:
    """Outputs to answer as binary: `binary_data` per output, else `binary_data_output`."""
    default = flag(body.parameters, "binary_data_output", False)
    if body.outputs is None:
        return {*OUTPUTS, SENTENCES_OUTPUT} if default else set()
    return {o.name for o in body.outputs if flag(o.parameters, "binary_data", default)}
