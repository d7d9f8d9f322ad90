"""Open Inference Protocol (KServe v2) REST bodies, as the specification names their fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestInput(_Strict):
    name: str = Field(description='Input tensor name; this service reads "text"')
    shape: list[int] = Field(description="[N] (or [N, 1]) for N texts")
    datatype: str = Field(description='"BYTES": texts as JSON strings')
    parameters: dict[str, Any] | None = None
    data: list[Any] = Field(description="The texts, flat (row-major) or nested by shape")


class RequestOutput(_Strict):
    name: str = Field(description='"probabilities" or "label"')
    parameters: dict[str, Any] | None = Field(
        default=None, description="Accepted and ignored (e.g. binary_data: answers are JSON)"
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

    id: str | None = Field(default=None, description="Echoed in the response")
    parameters: dict[str, Any] | None = Field(
        default=None, description='Optional {"truncate": bool}; other keys are ignored'
    )
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(default=None, description="Default: all outputs")


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


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
