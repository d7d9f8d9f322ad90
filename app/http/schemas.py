"""Request and response models of the service's own routes, and the one error body.

Request models forbid unknown fields and are strict (no "1" for true), so a typo is a 422 that
names the field rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong and what to change", examples=["..."])
    type: str = Field(description="Kind of error, e.g. invalid_input, model_not_found, queue_full")


ERROR_DESCRIPTIONS = {
    400: "Malformed binary tensor data: sizes or length prefixes that do not add up",
    401: "Missing or wrong API key (only when one is configured); on /v2/repository the admin key",
    403: "Model control is off: start the server with SENTIMENT_MODEL_CONTROL=true",
    404: "Unknown model; the message lists the loaded ones",
    409: "The server's state refuses the request (the default model cannot be unloaded)",
    413: "Body, text or token count over a limit",
    422: "Invalid input: empty text, wrong types, unknown fields, malformed JSON, too many texts",
    429: "The model's queue is full; see Retry-After",
    503: "Not ready: models loading or the service draining",
    504: "The request deadline passed",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries with the error model for each status code."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


TEXT_SCHEMA = {"type": "string", "minLength": 1, "pattern": "\\S"}
TEXTS_SCHEMA = {"type": "array", "items": TEXT_SCHEMA, "minItems": 1}


class TextsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "oneOf": [{"required": ["text"]}, {"required": ["texts"]}],
            "examples": [
                {"text": "A wonderful, moving film."},
                {"texts": ["Loved it", "Dull and too long"], "model": "sentiment-en"},
            ],
        },
    )

    # The documented schemas say what the handler checks: exactly one of the two, and each text
    # holding something other than whitespace (the handler answers 422 for `{}` or "  ").
    text: Annotated[str | None, WithJsonSchema(TEXT_SCHEMA)] = Field(
        default=None, description="One text; or use `texts`"
    )
    texts: Annotated[list[str] | None, WithJsonSchema(TEXTS_SCHEMA)] = Field(
        default=None, description="Several texts, answered in order"
    )
    model: str | None = Field(
        default=None,
        description="Model name; default: the service's. On /predict, `auto` picks per text the "
        "served model of the text's language (each prediction then names its `model` and "
        "`language`)",
    )
    truncate: bool | None = Field(
        default=None,
        description="Cut texts longer than the model's max_length (head and tail kept); false "
        "answers 413 instead. Default: the service setting",
    )

    @model_validator(mode="after")
    def _one_of(self) -> TextsRequest:
        for name in ("text", "texts"):  # the schema says a string / an array: never null
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"`{name}` is null; leave it out instead")
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of `text` (a string) or `texts` (a list of strings)")
        if self.texts is not None and not self.texts:
            raise ValueError("`texts` is empty; send at least one text")
        return self

    @property
    def items(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


def _whole_number(value: Any) -> Any:
    """JSON Schema's `integer` includes 2.0: a float with no fraction is the int it equals."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A count (>= 1) in a strict model: an int, or a float with no fraction (never a string or a
# bool). The bound sits inside, so that the JSON schema says `minimum`
Count = Annotated[int, Field(ge=1), BeforeValidator(_whole_number)]

TRUNCATION_DIRECTION_DESCRIPTION = (
    "Which tokens a text over the model's max_length keeps: `right` cuts its right side (keeps "
    "the first max_length tokens), `left` cuts its left side (keeps the last ones); `Left` and "
    "`Right` (TEI's spelling) are the same. Default: the bundle's own rule, the first "
    "`head_tokens` and the last tokens (the rule the model was trained with)"
)
TruncationDirection = Literal["left", "right", "Left", "Right"]


def direction_of(value: str | None) -> Literal["left", "right"] | None:
    return None if value is None else "left" if value.lower() == "left" else "right"


class SentencesOption(BaseModel):
    sentences: bool | None = Field(
        default=None,
        description="Also split each text into sentences and answer each one (its character "
        "span, label and probabilities) with an aggregate over them, including `mixed` when "
        "strong positive and strong negative sentences coexist. Every sentence is scored in the "
        "same batch as the text. 413 past SENTIMENT_MAX_SENTENCES sentences in a text. Default: "
        "false",
    )


class ExplainBody(TextsRequest, SentencesOption):
    """/explain's body: /predict's texts and options but `full_model` (explanations always run
    the full model)."""


class PredictRequest(TextsRequest, SentencesOption):
    full_model: bool | None = Field(
        default=None,
        description="Answer every text with the full model, even where the bundle's cascade "
        "would answer it from its fast graph (see `path` in the answer). Default: false",
    )
    top_k: Count | None = Field(
        default=None,
        description="Add `top` to each prediction: the k most probable labels, most probable "
        "first (k above the model's label count lists every label)",
    )
    raw_scores: bool | None = Field(
        default=None,
        description="Add `logits` to each prediction: the graph's scores before softmax (of "
        "the graph named by `path`), and rank `top` by them with them as scores. Default: false",
    )
    truncation_direction: TruncationDirection | None = Field(
        default=None, description=TRUNCATION_DIRECTION_DESCRIPTION
    )

    @property
    def direction(self) -> Literal["left", "right"] | None:
        return direction_of(self.truncation_direction)


class LabelScore(BaseModel):
    label: str
    score: float = Field(
        description="Probability; the logit with `raw_scores` (or `function_to_apply: none`), "
        "the sigmoid of the logit with `function_to_apply: sigmoid`"
    )


class SentencePrediction(BaseModel):
    start: int = Field(description="First character of the sentence in the text as sent")
    end: int = Field(description="One past the sentence's last character")
    label: str = Field(description="The sentence's most probable label")
    score: float = Field(description="Probability of that label")
    probabilities: dict[str, float] = Field(description="Probability of every label")


class SentenceAggregate(BaseModel):
    label: str = Field(description="Most probable label of the sentences' length-weighted mean")
    score: float = Field(description="Probability of that label in the mean")
    probabilities: dict[str, float] = Field(
        description="The sentences' probabilities averaged, weighted by length in characters"
    )
    mixed: bool = Field(description="True when mixed_score >= mixed_threshold")
    mixed_score: float | None = Field(
        description="min(max P(positive), max P(negative)) over the sentences; null for one "
        "sentence or a model without both labels"
    )
    mixed_threshold: float = Field(description="Calibrated threshold (docs/sentences.md)")
    sentences: int = Field(description="Number of sentences")


class Prediction(BaseModel):
    label: str = Field(description="The most probable label")
    score: float = Field(description="Probability of that label")
    probabilities: dict[str, float] = Field(description="Probability of every label")
    tokens: int = Field(description="Tokens the model read (after truncation)")
    truncated: bool = Field(description="True when the text was cut to the model's max_length")
    path: Literal["fast", "full"] = Field(
        description="The graph that answered: `fast`, the bundle's cascade (its cheap graph was "
        "confident enough), or `full`, the whole model (always so for bundles without a "
        "cascade, with `full_model: true`, or with SENTIMENT_CASCADE=false)"
    )
    top: list[LabelScore] | None = Field(
        default=None,
        description="Only with `top_k`: the k best labels, best first (by logit with "
        "`raw_scores`, which orders them as the probabilities do)",
    )
    logits: dict[str, float] | None = Field(
        default=None,
        description="Only with `raw_scores`: every label's logit, the graph's output before "
        "softmax. The bundles' graphs end in logits (an ensemble's are a weighted sum of its "
        "members' logits), so these are the model's raw scores, not derived from probabilities",
    )
    sentences: list[SentencePrediction] | None = Field(
        default=None, description='Only with `"sentences": true`: each sentence, in text order'
    )
    aggregate: SentenceAggregate | None = Field(
        default=None, description='Only with `"sentences": true`: the aggregate over them'
    )


class RoutedPrediction(Prediction):
    model: str = Field(description='The model that answered (with `"model": "auto"`)')
    language: str = Field(
        description="The text's language as identified (ISO 639-1; `und`: no letters, answered "
        "by the default model)"
    )


class TextError(BaseModel):
    error: str = Field(description="Why this text got no prediction and what to do")
    type: Literal["language_not_served"]
    language: str = Field(description="The text's language as identified")


class PredictResponse(BaseModel):
    model: str = Field(description="The model that answered, or `auto`")
    predictions: list[Prediction | RoutedPrediction | TextError] = Field(
        description='One per input text, in input order. With `"model": "auto"` each '
        "names its model and language, and a text in a language no served model reads gets an "
        "error in its place (the other texts are answered)"
    )


class WordContribution(BaseModel):
    text: str = Field(description="The word as it appears in the text")
    start: int = Field(description="First character of the word in the text")
    end: int = Field(description="One past the word's last character")
    contributions: dict[str, float] = Field(
        description="Per label: the label's log-odds, log(p / (1 - p)), for the text minus "
        "those for the text without this word; > 0: the word supports the label"
    )


class Explanation(Prediction):
    method: str = Field(description="How contributions were computed", examples=["occlusion"])
    words: list[WordContribution] = Field(description="Each word the model read, in text order")


class ExplainResponse(BaseModel):
    model: str
    explanations: list[Explanation] = Field(description="One per input text, in input order")


class Tokenized(BaseModel):
    tokens: list[str]
    ids: list[int]
    offsets: list[tuple[int, int]] = Field(description="Character span of each token in the text")
    count: int = Field(description="Number of tokens listed")
    truncated: bool = Field(description="True when tokens were cut to the model's max_length")


class TokenizeResponse(BaseModel):
    model: str
    results: list[Tokenized] = Field(description="One per input text, in input order")


class RuntimeInfo(BaseModel):
    provider: str = Field(description="ONNX Runtime execution provider in use")
    variant: str = Field(description="fp32 or int8")
    intra_op_threads: int
    inter_op_threads: int
    batch_workers: int = Field(description="Batches of this model run at once, one thread each")


class CascadeInfo(BaseModel):
    active: bool = Field(description="False when SENTIMENT_CASCADE=false: every text runs full")
    threshold: float = Field(description="Top fast-graph probability from which it answers")
    min_tokens: int = Field(
        description="Texts shorter than this (in tokens) skip the fast graph and run the full one"
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    language: str
    labels: list[str]
    max_length: int
    metrics: dict[str, Any] = Field(description="Evaluation metrics of the variant in use")
    runtime: RuntimeInfo
    cascade: CascadeInfo | None = Field(description="The bundle's cascade; null when it has none")
    manifest: dict[str, Any] = Field(description="The bundle's full manifest")


class ModelsResponse(BaseModel):
    default: str
    models: list[ModelInfo]
    failed: dict[str, str] = Field(description="Bundles refused at startup, with the reason")


class Status(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(Status):
    models: dict[str, str] = Field(
        description="loaded model -> version", examples=[{"sentiment-en": "2.0.0"}]
    )
