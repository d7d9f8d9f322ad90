"""One typed training configuration: commented defaults, then a TOML file, then `--key value` flags.

Unknown keys and values of the wrong type are refused with a message naming the key. The
effective configuration is saved into every checkpoint and into the bundle manifest.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "val_split": VALIDATION_SPLITS,
    "empty_text": ("error", "skip"),
    "file_format": FILE_FORMATS,
    "tokenizer": TOKENIZERS,
    "arch": ARCHITECTURES,
    "val_score_weights": ("files", "sqrt_rows"),
}


class ConfigError(ValueError):
    """A configuration key or value is wrong; the message names it and says what is expected."""


@dataclass
class DataFile:
    """One labelled file and how the run uses it. In TOML a plain string is a file with every
    default, or an inline table: {file = "imdb/train.tsv.gz", labels = ["negative", "positive"]}.
    """

    file: str  # path, relative to data_dir
    labels: list[str] = field(default_factory=list)  # name of each raw value 0, 1, ...; [] = run's
    weight: float = 1.0  # each row of this file counts this many times in the loss
    # the run's labels this file lacks: "unknown" (a row's loss is renormalised over the file's
    # labels) or "absent" (the file was built without them, e.g. IMDB and SST-2 leave neutral
    # texts out, so its rows also teach that they are not neutral)
    other_labels: str = "unknown"
    validation: str = ""  # "" = run's val_split; random, tail, hash, none, or a labelled file
    max_rows: int = 0  # 0 = every row; otherwise a seeded sample of this many
    ngram: bool = True  # the n-gram member is fitted on this file's rows too
    unescape: bool = False  # decode literal \\uXXXX escapes left in the text by its source
    file_format: str = ""  # "" = run's file_format; emoji_ranking for an emoji lexicon CSV
    part: str = "all"  # test files: all, or hash-test (the tenth a hash split holds out)
    licence: str = ""  # terms of use, recorded in the model card

    @property
    def name(self) -> str:
        """'imdb/test.tsv.gz' -> 'imdb-test'; names metrics in reports and manifests."""
        path = Path(self.file.removeprefix(PACKAGE_PREFIX))
        stem = path.name.split(".")[0].lower()
        folder = path.parts[0] if self.file.startswith(PACKAGE_PREFIX) else path.parent.name
        base = f"{folder}-{stem}" if folder else stem
        return base + ("-heldout" if self.part == "hash-test" else "")


DATA_FILE_CHOICES = {
    "part": ("all", "hash-test"),
    "file_format": ("", *FILE_FORMATS),
    "other_labels": ("unknown", "absent"),
}


@dataclass
class TrainConfig:
    # --- run ---
    name: str = "sentiment"  # bundle name (lower-case letters, digits, . _ -)
    version: str = "1.0.0"  # bundle version, recorded in the manifest
    language: str = "en"  # recorded in the manifest; also the model card's language
    out_dir: str = "runs/sentiment"  # checkpoints, logs, plots
    seed: int = 1337  # python, numpy and torch seeds; also the validation split
    device: str = "auto"  # auto = cuda when available, else cpu
    threads: int = 0  # torch intra-op threads; 0 = the CPUs this process may use
    release_notes: list[str] = field(default_factory=list)  # "what changed", in the model card
    known_limits: list[str] = field(default_factory=list)  # limits, in the model card
    # --- data (relative paths resolve against data_dir) ---
    data_dir: str = "../shared/data"  # folder holding the data sets
    # labelled files: a path, or a table of DataFile options (above); test files are evaluated
    # after training, never tuned on
    train_files: list[DataFile] = field(default_factory=lambda: [DataFile("imdb/train.tsv.gz")])
    test_files: list[DataFile] = field(default_factory=list)
    text_column: str = ""  # "" = detect (text, sentence, document, review, content)
    label_column: str = ""  # "" = detect (label, sentiment, polarity, labels)
    labels: list[str] = field(default_factory=lambda: ["negative", "positive"])  # index order
    binary_labels: list[str] = field(default_factory=list)  # the two a binary set maps onto
    label_values: list[str] = field(default_factory=list)  # raw file value per label; [] = index
    file_format: str = "auto"  # auto (from the file name), tsv, csv, jsonl, emoji_ranking
    empty_text: str = "error"  # error or skip rows whose text is empty
    max_train_rows: int = 0  # 0 = all; otherwise a stratified sample per file, for quick runs
    val_fraction: float = 0.1  # carved from each training file
    val_split: str = "random"  # random, tail (last rows per label: IMDB movies stay apart), hash
    # --- tokenizer ---
    tokenizer: str = "bpe"  # bpe (deterministic), wordpiece or unigram (ids vary run to run)
    vocab_size: int = 30000  # subword vocabulary, [PAD] and [UNK] included
    byte_fallback: bool = True  # characters outside the vocabulary become byte tokens, not [UNK]
    normalizer_steps: list[str] = field(default_factory=lambda: list(NORMALIZER_STEPS))
    lowercase: bool = True  # lower-case in the normaliser (harmless for Hangul)
    max_length: int = 512  # tokens fed to the model; longer texts are cut
    head_tokens: int = 128  # of max_length, kept from the start; the rest from the end
    # --- model ---
    arch: str = "lstm"  # lstm, gru, rnn, cnn_lstm, or none (the n-gram member alone)
    embed_dim: int = 128  # token embedding width
    hidden_dim: int = 128  # per direction
    num_layers: int = 1  # stacked recurrent layers
    members: int = 1  # recurrent members, trained one after another and mixed (an ensemble)
    share_embedding: bool = False  # later members reuse the first one's embedding (smaller file)
    char_members: int = 0  # of the members, how many (the last) read characters instead of tokens
    bidirectional: bool = True  # add a recurrence reading each text backwards
    cnn_channels: int = 128  # cnn_lstm only
    cnn_kernel: int = 3  # cnn_lstm only; odd
    cnn_stride: int = 1  # cnn_lstm only; 2 halves the recurrence's steps
    dropout: float = 0.3  # before the classifier and between layers
    embed_dropout: float = 0.1  # dropout on token embeddings
    ngram_buckets: int = 0  # hashed n-gram member size; 0 = none, e.g. 1048576
    ngram_order: int = 3  # n-grams of ids from 1 to this
    ngram_chars: int = 0  # also character n-grams from 1 to this (0 = off)
    ngram_l2: float = 1e-4  # L2 penalty when fitting the n-gram member
    # --- mix (fitted on validation after each epoch) ---
    # weigh every validation file alike, and within a file every label alike: the service does
    # not know the label priors of what it will be sent, and macro-averaged scores reward this
    mix_balance_labels: bool = True
    # how validation files count in the score that picks the best epoch: "files" alike, or
    # "sqrt_rows" (by the square root of their size, so a 300-text file cannot outvote a
    # 2,000-text one on a few texts' noise)
    val_score_weights: str = "files"
    # --- optimisation ---
    epochs: int = 6  # upper bound; early stopping may end sooner
    batch_size: int = 32  # texts per step (per process under torchrun)
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    warmup_fraction: float = 0.05  # linear warm-up, then cosine decay to 0
    grad_clip: float = 1.0  # max global gradient norm
    patience: int = 2  # epochs without validation gain before stopping
    bucket_batches: int = 50  # batches per length-sorted pool (less padding, still shuffled)
    # --- distillation (a teacher's logits: python -m training teacher, training/teacher/) ---
    teacher_dir: str = ""  # teacher run folder with transfer.jsonl.gz and labels/; "" = none
    distill_weight: float = 0.7  # share of the loss on the teacher's logits; the rest, labels
    distill_temperature: float = 2.0  # softens teacher and student alike in that term
    distill_max_unknown: float = 0.25  # no teacher logits where more word pieces were [UNK]
    transfer_rows: int = -1  # transfer-only rows (sentences, augmented) added; -1 = all
    # --- export ---
    opset: int = 17  # ONNX opset
    quantize: bool = True  # also write model.int8.onnx (dynamic int8)
    # dynamic int8 scales activations per batch, so a text's scores shift (~1e-3) with the
    # texts batched beside it; fp32 stays the default unless this is set
    int8_default: bool = False
    int8_tolerance: float = 0.5  # accuracy points int8 may lose and still be the default
    cascade: bool = True  # also export the n-gram member alone as a fast path (needs one)
    cascade_max_drop: float = 0.002  # share of texts the cascade may answer unlike the full model

    def resolve(self, path: str) -> Path:
        """A data file's path: absolute, inside an installed package, or under data_dir."""
        if path.startswith(PACKAGE_PREFIX):
            return package_file(path)
        candidate = Path(path)
        return candidate if candidate.is_absolute() else Path(self.data_dir) / candidate

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def _type_of(owner: type, name: str) -> Any:
    return typing.get_type_hints(owner)[name]


def _coerce(name: str, value: Any, from_text: bool, owner: type | None = None) -> Any:
    """Check (TOML, JSON) or parse (command line) one value against the field's type."""
    expected = _type_of(owner or TrainConfig, name)
    if typing.get_origin(expected) is list:
        return _coerce_list(name, value, from_text, typing.get_args(expected)[0])
    if expected is bool:
        if from_text and str(value).lower() in ("true", "1", "yes", "false", "0", "no"):
            return str(value).lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
    elif expected is int and not isinstance(value, bool):
        try:
            return int(value) if from_text else _exact(value, int)
        except (TypeError, ValueError):
            pass
    elif expected is float and not isinstance(value, bool):
        try:
            return float(value) if from_text or isinstance(value, int) else _exact(value, float)
        except (TypeError, ValueError):
            pass
    elif expected is str and (from_text or isinstance(value, str)):
        return str(value)
    raise ConfigError(f"{name}: expected {getattr(expected, '__name__', expected)}, got {value!r}")


def _coerce_list(name: str, value: Any, from_text: bool, item: type) -> list:
    if from_text:
        text = str(value).strip()
        value = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v]
    if item is DataFile and isinstance(value, list):
        return [_data_file(name, entry) for entry in value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    return value


def _data_file(name: str, entry: Any) -> DataFile:
    """A path, or a table of DataFile options, checked key by key."""
    if isinstance(entry, DataFile):
        return entry
    if isinstance(entry, str):
        return DataFile(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise ConfigError(
            f"{name}: each entry is a path or a table with a 'file' key, got {entry!r}"
        )
    known = {f.name for f in dataclasses.fields(DataFile)}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ConfigError(
            f"{name}: unknown key(s) {unknown} for {entry['file']}; known: {sorted(known)}"
        )
    values = {k: _coerce(k, v, False, DataFile) for k, v in entry.items()}
    data_file = DataFile(**values)
    for key, allowed in DATA_FILE_CHOICES.items():
        if getattr(data_file, key) not in allowed:
            raise ConfigError(
                f"{name}: {data_file.file}: {key} must be one of {list(allowed)}, "
                f"got {getattr(data_file, key)!r}"
            )
    return data_file


def _exact(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError
    return value


def apply_overrides(config: TrainConfig, values: dict[str, Any], from_text: bool) -> TrainConfig:
    known = _fields()
    updates = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in known:
            close = [k for k in known if k.startswith(name[:4])]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r}{hint} (see `python -m training train --help`)"
            )
        updates[name] = _coerce(name, value, from_text)
    updated = dataclasses.replace(config, **updates)
    validate(updated)
    return updated


def validate(config: TrainConfig) -> None:
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            raise ConfigError(
                f"{name}: must be one of {list(allowed)}, got {getattr(config, name)!r}"
            )
    if not 0 <= config.head_tokens <= config.max_length:
        raise ConfigError(
            f"head_tokens: must be between 0 and max_length ({config.max_length}), got "
            f"{config.head_tokens}; set head_tokens along with max_length"
        )
    if not 1 <= config.ngram_order <= 8 or not 0 <= config.ngram_chars <= 8:
        raise ConfigError("ngram_order must be 1-8 and ngram_chars 0-8")
    if not 0 <= config.char_members <= config.members:
        raise ConfigError("char_members: must be between 0 and members")
    if config.arch == "none" and config.ngram_buckets <= 0:
        raise ConfigError("arch 'none' needs ngram_buckets > 0")
    positive = (
        "members",
        "vocab_size",
        "max_length",
        "embed_dim",
        "hidden_dim",
        "num_layers",
        "epochs",
        "batch_size",
    )
    for name in positive:
        if getattr(config, name) < 1:
            raise ConfigError(f"{name}: must be at least 1")
    if not 0.0 < config.val_fraction < 1.0:
        raise ConfigError("val_fraction: must be between 0 and 1")
    if not 0.0 <= config.distill_weight <= 1.0 or config.distill_temperature <= 0:
        raise ConfigError("distill_weight: must be 0-1, and distill_temperature above 0")
    if not config.train_files:
        raise ConfigError("train_files: give at least one labelled file")
    _validate_labels(config)
    unknown_steps = sorted(set(config.normalizer_steps) - set(NORMALIZER_STEPS))
    if unknown_steps:
        raise ConfigError(
            f"normalizer_steps: unknown {unknown_steps}; choose from {list(NORMALIZER_STEPS)}"
        )
    if config.byte_fallback and config.tokenizer == "wordpiece":
        raise ConfigError("byte_fallback: WordPiece has none; use bpe or unigram, or set false")


def _validate_labels(config: TrainConfig) -> None:
    if config.binary_labels and (
        len(config.binary_labels) != 2 or not set(config.binary_labels) <= set(config.labels)
    ):
        raise ConfigError(f"binary_labels: give two of the labels {config.labels}")
    for entry in [*config.train_files, *config.test_files]:
        if not set(entry.labels) <= set(config.labels):
            raise ConfigError(
                f"{entry.file}: labels {entry.labels} must be among the run's {config.labels}"
            )


def load_toml(path: Path | str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    # sections are only for readability: [data] vocab_size = ... reads as vocab_size
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(value if isinstance(value, dict) else {key: value})
    return flat


def build_config(toml_path: str | None, flags: dict[str, str]) -> TrainConfig:
    """Defaults, then the TOML file, then command-line flags (strings parsed by type)."""
    config = TrainConfig()
    if toml_path:
        config = apply_overrides(config, load_toml(toml_path), from_text=False)
    return apply_overrides(config, flags, from_text=True)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a saved configuration (from a checkpoint); checks it like a TOML file."""
    return apply_overrides(TrainConfig(), data, from_text=False)


def help_lines() -> list[str]:
    """One line per option: name, default and the comment written beside it in this file."""
    import inspect

    defaults = TrainConfig().to_dict()
    lines = []
    for line in inspect.getsource(TrainConfig).splitlines():
        stripped = line.strip()
        if stripped.startswith("# ---"):
            lines.append(stripped.strip("# -").upper() + ":")
            continue
        name = stripped.split(":", 1)[0]
        if name in defaults and not stripped.startswith("def "):
            comment = stripped.split("  # ", 1)[1] if "  # " in stripped else ""
            default = json.dumps(defaults[name], ensure_ascii=False)
            lines.append(f"  --{name.replace('_', '-'):<18} {default:<24} {comment}")
    return lines
