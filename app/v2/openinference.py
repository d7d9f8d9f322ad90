"""Open Inference Protocol (KServe v2) over this service: a BYTES input of texts in; FP32
`probabilities` [N, C] and BYTES `label` [N] out. Errors use the service's one shape, whose
`error` field is the one v2 clients read."""

from __future__ import annotations

import json
import math
from typing import Any

from app.core.errors import InvalidInput, ModelNotFound
from app.core.worker import ModelWorker
from app.v2.messages import OUTPUT_NAMES, SENTENCES_OUTPUT, InferenceRequest

INPUT_NAME = "text"
OUTPUTS = OUTPUT_NAMES
PLATFORM = "onnxruntime_onnx"


def flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in data:
        flat.extend(flatten(item) if isinstance(item, list) else [item])
    return flat


def texts_of(request: InferenceRequest) -> list[str]:
    """The texts of the one BYTES input; every mismatch says what the service expects."""
    if len(request.inputs) != 1 or request.inputs[0].name != INPUT_NAME:
        names = [i.name for i in request.inputs]
        raise InvalidInput(f'send exactly one input named "{INPUT_NAME}", got {names}')
    tensor = request.inputs[0]
    if tensor.datatype != "BYTES":
        raise InvalidInput(f'input "{INPUT_NAME}" must have datatype BYTES, got {tensor.datatype}')
    if tensor.data is None:
        raise InvalidInput(f'input "{INPUT_NAME}" has no data (nor binary_data_size)')
    texts = flatten(tensor.data)
    if any(d < 0 for d in tensor.shape) or math.prod(tensor.shape) != len(texts):
        raise InvalidInput(f"shape {tensor.shape} does not match {len(texts)} data elements")
    if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
        raise InvalidInput(f"shape must be [N] or [N, 1] for N texts, got {tensor.shape}")
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidInput(f'input "{INPUT_NAME}" data must be a non-empty list of strings')
    return texts


def requested_outputs(request: InferenceRequest) -> list[str]:
    """The outputs to answer: those named, else all (with "sentences" when asked for)."""
    if request.outputs is None:
        asked = flag_of(request, SENTENCES_OUTPUT)
        return [*OUTPUTS, SENTENCES_OUTPUT] if asked else list(OUTPUTS)
    names = [o.name for o in request.outputs]
    known = [*OUTPUTS, SENTENCES_OUTPUT]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"unknown outputs {unknown}; this model has {known}")
    return names


def flag_of(request: InferenceRequest, name: str) -> bool | None:
    """A boolean request parameter ("truncate", "full_model"); None when not sent or null."""
    value = (request.parameters or {}).get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f'parameter "{name}" must be true or false')
    return value


def output_tensors(
    names: list[str],
    labels: list[str],
    probs: list[list[float]],
    analyses: list[dict[str, Any]] | None = None,
) -> list[dict]:
    n, c = len(probs), len(labels)
    tensors = {
        "probabilities": lambda: {
            "name": "probabilities",
            "shape": [n, c],
            "datatype": "FP32",
            "data": [p for row in probs for p in row],
        },
        "label": lambda: {
            "name": "label",
            "shape": [n],
            "datatype": "BYTES",
            "data": [labels[max(range(c), key=row.__getitem__)] for row in probs],
        },
        SENTENCES_OUTPUT: lambda: {
            "name": SENTENCES_OUTPUT,
            "shape": [n],
            "datatype": "BYTES",
            "data": [json.dumps(a, ensure_ascii=False) for a in analyses or []],
        },
    }
    return [tensors[name]() for name in names]


def check_version(model: ModelWorker, version: str | None) -> None:
    served = model.bundle.manifest.version
    if version is not None and version != served:
        raise ModelNotFound(
            f"model {model.name!r} has no version {version!r}; it serves {served!r}"
        )


def model_metadata(model: ModelWorker) -> dict[str, Any]:
    """The default outputs; the optional "sentences" output is left out, so that clients that
    ask for every listed output do not turn on per-sentence analysis (docs/sentences.md)."""
    return {
        "name": model.name,
        "versions": [model.bundle.manifest.version],
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(model.labels)]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }
