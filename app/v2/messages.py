"""Open Inference Protocol (KServe v2) REST bodies, as the specification names their fields."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.http.schemas import TEXT_SCHEMA

OUTPUT_NAMES = ("probabilities", "label")
# per-sentence analysis: a BYTES [N] output, one JSON document per text, answered when the
# request sets parameters.sentences=true or names this output
SENTENCES_OUTPUT = "sentences"
# texts, flat ([N]) or one per row ([N, 1]). The OpenAPI document describes JSON bodies, where
# `data` is required; a binary-extension body (not JSON, so outside the document) leaves it out.
DATA_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "anyOf": [
            TEXT_SCHEMA,
            {"type": "array", "items": TEXT_SCHEMA, "minItems": 1, "maxItems": 1},
        ]
    },
}
SHAPE_SCHEMA = {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 2}


def _data_required_in_json(schema: dict[str, Any]) -> None:
    schema["required"] = [*schema.get("required", []), "data"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestInput(_Strict):
    # documented as what the service takes; checked in app.v2.openinference with clearer messages.
    # One rule JSON Schema cannot state is left to those checks: the product of `shape` equals
    # the number of texts in `data`.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_data_required_in_json)

    name: Annotated[str, WithJsonSchema({"const": "text"})] = Field(
        description='Input tensor name; this service reads "text"'
    )
    shape: Annotated[list[int], WithJsonSchema(SHAPE_SCHEMA)] = Field(
        description="[N] (or [N, 1]) for N texts; its product is the number of texts"
    )
    datatype: Annotated[str, WithJsonSchema({"const": "BYTES"})] = Field(
        description='"BYTES": texts as JSON strings'
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description="binary_data_size: the tensor's bytes in the binary part of the body "
        "(binary tensor data extension); other keys are ignored",
    )
    data: Annotated[list[Any] | None, WithJsonSchema(DATA_SCHEMA)] = Field(
        default=None,
        description="The texts, flat (row-major) or nested by shape; left out when the tensor "
        "travels as binary data",
    )


class RequestOutput(_Strict):
    name: Annotated[str, WithJsonSchema({"enum": [*OUTPUT_NAMES, SENTENCES_OUTPUT]})] = Field(
        description='"probabilities", "label" or "sentences" (per-sentence analysis: BYTES [N], '
        'each a JSON document {"sentences": [...], "aggregate": {...}} as /predict answers)'
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data (bool): answer this output as binary data"
    )


class InferenceRequest(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "42",
                    "inputs": [
                        {
                            "name": "text",
                            "shape": [2],
                            "datatype": "BYTES",
                            "data": ["A wonderful film", "Dull and too long"],
                        }
                    ],
                }
            ]
        },
    )

    model_name: str | None = Field(default=None, description="Ignored: the path names the model")
    model_version: str | None = Field(default=None, description="Ignored: the path decides")
    id: str | None = Field(default=None, description="Echoed in the response")
    parameters: dict[str, Any] | None = Field(
        default=None,
        description='Optional "truncate" (bool), "sentences" (bool: also answer the '
        '"sentences" output, per-sentence analysis) and "binary_data_output" (bool: every '
        "output as binary data); other keys are ignored",
    )
    inputs: list[RequestInput] = Field(min_length=1, json_schema_extra={"maxItems": 1})
    outputs: list[RequestOutput] | None = Field(default=None, description="Default: all outputs")


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_size when the output travels as binary data"
    )
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks a variable dimension")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool
