"""From a configuration to encoded splits: read files, carve validation, fit the tokenizer."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from model.bundle import Truncation
from model.text import TextEncoder
from training.config import TrainConfig
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


def read_training_data(config: TrainConfig) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, validation): validation is carved from each training file the same way."""
    options = read_options(config)
    trains, vals = [], []
    for path in config.train_files:
        data = _sample(
            read_labelled(config.resolve(path), options), config.max_train_rows, config.seed
        )
        train, val = validation_split(data, config.val_fraction, config.val_split, config.seed)
        trains.append(train)
        vals.append(val)
        log.info("%s: %d train, %d validation rows", path, len(train), len(val))
    return LabelledTexts.concat(trains), LabelledTexts.concat(vals)


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
