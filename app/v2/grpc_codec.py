"""KServe v2 gRPC messages to and from the REST request and answer shapes, so both transports
share every check (app.v2.openinference) and the one call into the model (app.v2.infer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import MalformedBody
from app.v2.messages import InferenceRequest, RequestInput, RequestOutput
from app.v2.proto import grpc_predict_v2_pb2 as pb2
from app.v2.tensor_codec import decode_texts, encode_tensor, utf8_texts

InferTensor = pb2.ModelInferRequest.InferInputTensor
OutputTensor = pb2.ModelInferResponse.InferOutputTensor


def parameters_of(parameters: Mapping[str, pb2.InferParameter]) -> dict[str, Any] | None:
    """{name: bool | int | str}; None when there are none (as a JSON request leaves them out)."""
    values = {}
    for name, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        if choice is not None:
            values[name] = getattr(parameter, choice)
    return values or None


def data_of(tensor: InferTensor, raw: bytes | None) -> list[Any]:
    """The texts of a BYTES tensor, from raw contents or typed contents; [] for other types
    (the datatype check then names the problem)."""
    if tensor.datatype != "BYTES":
        return []
    if raw is not None:
        return decode_texts(raw)
    return utf8_texts(tensor.contents.bytes_contents)


def request_of(message: pb2.ModelInferRequest) -> InferenceRequest:
    raw: list[bytes | None] = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise MalformedBody(
            f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs"
        )
    raw = raw or [None] * len(message.inputs)
    inputs = [
        RequestInput(
            name=tensor.name,
            shape=list(tensor.shape),
            datatype=tensor.datatype,
            parameters=parameters_of(tensor.parameters),
            data=data_of(tensor, contents),
        )
        for tensor, contents in zip(message.inputs, raw, strict=True)
    ]
    outputs = [
        RequestOutput(name=o.name, parameters=parameters_of(o.parameters)) for o in message.outputs
    ]
    return InferenceRequest(
        id=message.id or None,
        parameters=parameters_of(message.parameters),
        inputs=inputs,
        outputs=outputs or None,
    )


def response_of(answer: dict[str, Any]) -> pb2.ModelInferResponse:
    """Outputs as raw contents, in output order, as Triton answers (its client reads only these)."""
    tensors = answer["outputs"]
    return pb2.ModelInferResponse(
        model_name=answer["model_name"],
        model_version=answer["model_version"],
        id=answer["id"],
        outputs=[
            OutputTensor(name=t["name"], datatype=t["datatype"], shape=t["shape"]) for t in tensors
        ],
        raw_output_contents=[encode_tensor(t["datatype"], t["data"]) for t in tensors],
    )


def metadata_of(metadata: dict[str, Any]) -> pb2.ModelMetadataResponse:
    tensor = pb2.ModelMetadataResponse.TensorMetadata
    return pb2.ModelMetadataResponse(
        name=metadata["name"],
        versions=metadata["versions"],
        platform=metadata["platform"],
        inputs=[tensor(**t) for t in metadata["inputs"]],
        outputs=[tensor(**t) for t in metadata["outputs"]],
    )
