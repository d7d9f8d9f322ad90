"""The two foreign shapes of `POST /predict` (and `POST /`) that existing clients send unmodified.

- Hugging Face text-embeddings-inference (TEI), its classification route: `{"inputs": ...,
  "truncate", "truncation_direction", "raw_scores"}`, answered with `[{"score", "label"}]` per
  text, best first: a flat list for one text (`"text"` or `["text"]`), a list of lists for a
  batch (`[["a"], ["b"]]`). TEI's text pairs (`["a", "b"]`, for cross-encoders) are refused with
  a 422 that says so: these models read one text.
- The Hugging Face Inference API, as `huggingface_hub.InferenceClient.text_classification`
  posts it to the URL it is given (the service's base URL, so `POST /`, or `.../predict`):
  `{"inputs": "text", "parameters": {"top_k", "function_to_apply"}}`, always answered with a
  list of lists (the client reads the first).

A body holding `parameters` is the Inference API's; one with `inputs` and no `parameters` is TEI's.
A body is read as a foreign shape only when it holds the key `inputs`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from app.http.parsing import json_content, parse_body
from app.http.schemas import (
    TEXT_SCHEMA,
    TEXTS_SCHEMA,
    TRUNCATION_DIRECTION_DESCRIPTION,
    Count,
    LabelScore,
    PredictRequest,
    TruncationDirection,
)

ONE_TEXT = {"type": "array", "items": TEXT_SCHEMA, "minItems": 1, "maxItems": 1}
TEI_INPUTS_SCHEMA = {
    "oneOf": [
        {**TEXT_SCHEMA, "description": "One text: answered with one list"},
        {**ONE_TEXT, "description": "One text in a list: answered with one list"},
        {
            "type": "array",
            "items": ONE_TEXT,
            "minItems": 1,
            "description": "A batch, each text in a list of its own: answered with a list per "
            "text. TEI's text pairs ([a, b]) are refused: these models read one text",
        },
    ]
}
HF_INPUTS_SCHEMA = {"oneOf": [TEXT_SCHEMA, TEXTS_SCHEMA]}
PAIR_MESSAGE = (
    "a list of two texts is a text pair (TEI's input for cross-encoders); these models read one "
    'text each: send "inputs": "text", or [["first"], ["second"]] for a batch'
)
MODEL_DESCRIPTION = "Model name (an extension of this service); default: the service's"


def _sequence(item: list[str], where: str) -> str:
    """One TEI sequence (`[text]`) as its text; pairs and other lengths are refused."""
    if len(item) == 1:
        return item[0]
    if len(item) == 2:
        raise ValueError(f"{where}: {PAIR_MESSAGE}")
    raise ValueError(f"{where} holds {len(item)} strings; a sequence is one text in a list")


class TeiPredictRequest(BaseModel):
    """The body of TEI's `POST /predict`."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        title="TeiPredictRequest",
        json_schema_extra={
            "examples": [
                {"inputs": "A wonderful, moving film."},
                {"inputs": [["Loved it"], ["Dull"]], "raw_scores": True},
            ]
        },
    )

    inputs: Annotated[str | list[str] | list[list[str]], WithJsonSchema(TEI_INPUTS_SCHEMA)]
    truncate: bool | None = Field(
        default=None,
        description="false: a text over max_length answers 413. Default: the service setting "
        "(true unless SENTIMENT_TRUNCATE=false; TEI's own default is false)",
    )
    truncation_direction: TruncationDirection | None = Field(
        default=None, description=TRUNCATION_DIRECTION_DESCRIPTION
    )
    raw_scores: bool | None = Field(
        default=None, description="Scores are the logits instead of probabilities"
    )
    model: str | None = Field(default=None, description=MODEL_DESCRIPTION)

    @model_validator(mode="after")
    def _no_pairs(self) -> TeiPredictRequest:
        self.texts  # noqa: B018 - raises for pairs and empty batches
        return self

    @property
    def batch(self) -> bool:
        return (
            isinstance(self.inputs, list) and bool(self.inputs) and isinstance(self.inputs[0], list)
        )

    @property
    def texts(self) -> list[str]:
        if isinstance(self.inputs, str):
            return [self.inputs]
        if not self.inputs:
            raise ValueError("`inputs` is empty; send a text or a batch [[text], ...]")
        if not self.batch:
            return [_sequence(self.inputs, "`inputs`")]  # type: ignore[arg-type]
        return [_sequence(item, f"inputs[{i}]") for i, item in enumerate(self.inputs)]  # type: ignore[arg-type]


class InferenceParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    top_k: Count | None = Field(default=None, description="Only the k best labels")
    function_to_apply: Literal["softmax", "sigmoid", "none"] | None = Field(
        default=None,
        description="How logits become scores: softmax (the default: probabilities), sigmoid "
        "(each label on its own), none (the logits)",
    )


class InferenceApiRequest(BaseModel):
    """The body `huggingface_hub.InferenceClient.text_classification` posts."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        title="InferenceApiRequest",
        json_schema_extra={
            "examples": [{"inputs": "A wonderful, moving film.", "parameters": {"top_k": 2}}]
        },
    )

    inputs: Annotated[str | list[str], WithJsonSchema(HF_INPUTS_SCHEMA)]
    parameters: InferenceParameters
    model: str | None = Field(default=None, description=MODEL_DESCRIPTION)

    @model_validator(mode="after")
    def _not_empty(self) -> InferenceApiRequest:
        if isinstance(self.inputs, list) and not self.inputs:
            raise ValueError("`inputs` is empty; send at least one text")
        return self

    @property
    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


AnyPredictRequest = PredictRequest | TeiPredictRequest | InferenceApiRequest


def foreign_shape(body: bytes, content_type: bytes | None) -> type[BaseModel] | None:
    """The foreign request model a body that failed the native shape was meant as, if any."""
    if not json_content(content_type):
        return None
    try:
        value = json.loads(body)
    except Exception:  # malformed: the native parser's error says so
        return None
    if not isinstance(value, dict) or "inputs" not in value:
        return None
    return InferenceApiRequest if "parameters" in value else TeiPredictRequest


def parse_predict(body: bytes, content_type: bytes | None) -> AnyPredictRequest:
    """A body that names `inputs` as a key is a foreign shape; every other body is the native
    one, which so pays one substring search more (~0.1 us). The key test reads the JSON, since
    a native body may hold the string "inputs" as a text."""
    if b'"inputs"' in body:
        shape = foreign_shape(body, content_type)
        if shape is not None:
            return parse_body(shape, body, content_type)  # type: ignore[return-value]
    return parse_body(PredictRequest, body, content_type)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def scored_labels(
    labels: list[str], probabilities: list[float], logits: list[float], function: str
) -> list[dict[str, Any]]:
    """Every label with its score, best first (`function`: softmax, sigmoid or none)."""
    if function == "softmax":
        scores = probabilities
    elif function == "sigmoid":
        scores = [_sigmoid(z) for z in logits]
    else:
        scores = logits
    order = sorted(range(len(labels)), key=lambda i: -scores[i])
    return [{"score": scores[i], "label": labels[i]} for i in order]


# What the two shapes answer, for OpenAPI: one list for one TEI text, else a list per text
ForeignResponse = list[LabelScore] | list[list[LabelScore]]
