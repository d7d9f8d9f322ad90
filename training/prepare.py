"""From a configuration to encoded splits: read files, carve validation, fit the tokenizer."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from model.bundle import Truncation
from model.text import TextEncoder
from training.config import ConfigError, TrainConfig
from training.data import LabelledTexts, ReadOptions, read_labelled, validation_split
from training.tokenizer import train_tokenizer

log = logging.getLogger(__name__)
TOKENIZER_NAME = "tokenizer.json"


@dataclass
class EncodedSplit:
    name: str
    rows: list[list[int]]  # truncated token ids
    labels: list[int]

    def lengths(self) -> list[int]:
        return [len(r) for r in self.rows]


def read_options(config: TrainConfig) -> ReadOptions:
    return ReadOptions(
        labels=tuple(config.labels),
        label_values=tuple(config.label_values),
        text_column=config.text_column,
        label_column=config.label_column,
        file_format=config.file_format,
        empty_text=config.empty_text,
    )


def split_name(path: str) -> str:
    """'imdb/test.tsv.gz' -> 'imdb-test'; names metrics in reports and manifests."""
    file = Path(path)
    stem = file.name.split(".")[0]
    return f"{file.parent.name}-{stem}" if file.parent.name else stem


def _sample(data: LabelledTexts, limit: int, seed: int) -> LabelledTexts:
    if not limit or len(data) <= limit:
        return data
    picked = sorted(random.Random(seed).sample(range(len(data)), limit))
    return data.subset(picked)


def read_training_parts(config: TrainConfig) -> list[tuple[str, LabelledTexts, LabelledTexts]]:
    """(file, train, validation) per training file; validation is carved from each file alike."""
    options = read_options(config)
    parts = []
    for path in config.train_files:
        data = _sample(
            read_labelled(config.resolve(path), options), config.max_train_rows, config.seed
        )
        train, val = validation_split(data, config.val_fraction, config.val_split, config.seed)
        parts.append((path, train, val))
        log.info("%s: %d train, %d validation rows", path, len(train), len(val))
    return parts


def read_training_data(config: TrainConfig) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, validation) of all training files together."""
    parts = read_training_parts(config)
    return (
        LabelledTexts.concat([train for _, train, _ in parts]),
        LabelledTexts.concat([val for _, _, val in parts]),
    )


def ngram_fit_rows(
    config: TrainConfig, parts: list[tuple[str, LabelledTexts, LabelledTexts]]
) -> list[int]:
    """Rows of the concatenated training split that the n-gram branch is fitted on.

    Fitting it on long reviews only keeps its Naive-Bayes ratios and penalty tuned to them; the
    length-aware mix then leans on the recurrent branch for short texts.
    """
    unknown = set(config.ngram_files) - set(config.train_files)
    if unknown:
        raise ConfigError(f"ngram_files: {sorted(unknown)} are not among train_files")
    rows, start = [], 0
    for path, train, _ in parts:
        if not config.ngram_files or path in config.ngram_files:
            rows.extend(range(start, start + len(train)))
        start += len(train)
    return rows


def read_test_data(config: TrainConfig) -> dict[str, LabelledTexts]:
    options = read_options(config)
    return {split_name(p): read_labelled(config.resolve(p), options) for p in config.test_files}


def truncation_of(config: TrainConfig) -> Truncation:
    return Truncation(max_length=config.max_length, head_tokens=config.head_tokens)


def fit_or_load_encoder(
    config: TrainConfig, train: LabelledTexts, out_dir: Path, fit: bool
) -> TextEncoder:
    """Fit the tokenizer on the training split (main process) or load the one already saved."""
    path = out_dir / TOKENIZER_NAME
    if fit and not path.exists():
        tokenizer = train_tokenizer(
            train.texts, config.tokenizer, config.vocab_size, config.lowercase
        )
        tokenizer.save(str(path))
        log.info(
            "tokenizer: %s, %d tokens, saved to %s",
            config.tokenizer,
            tokenizer.get_vocab_size(),
            path,
        )
    return TextEncoder.from_file(path, truncation_of(config))


def encode(encoder: TextEncoder, data: LabelledTexts, name: str) -> EncodedSplit:
    return EncodedSplit(name, encoder.ids_only(data.texts), list(data.labels))
