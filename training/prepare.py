"""From a configuration to encoded splits: read every file, carve validation, fit the tokenizer.

The one place that turns `train_files` and `test_files` into data: training (`train.py`) and
export (`package.py`) both come through here, and the validation split a run carved is saved in
the run folder, so export reads it back instead of re-reading every training file.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.bundle import Truncation
from model.text import TextEncoder
from training.config import VALIDATION_SPLITS, DataFile, TrainConfig
from training.data import LabelledTexts, ReadOptions, hash_part, read_labelled, validation_split
from training.tokenizer import train_tokenizer

log = logging.getLogger(__name__)
TOKENIZER_NAME = "tokenizer.json"
VALIDATION_NAME = "validation.jsonl.gz"


@dataclass
class EncodedSplit:
    """Token ids of one labelled set, with what the loss needs per row."""

    name: str
    rows: list[list[int]]  # truncated token ids
    labels: list[int]
    allowed: list[int]  # bit mask of the labels each row could have had
    weights: list[float]
    scored: int = -1  # bit mask of the labels the set is scored on (its file's labels)
    # teacher logits float32 [N, C] for distillation; a row of NaN has none; None = no teacher
    soft: np.ndarray | None = None

    def lengths(self) -> list[int]:
        return [len(r) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, indices: list[int]) -> EncodedSplit:
        return EncodedSplit(
            self.name,
            [self.rows[i] for i in indices],
            [self.labels[i] for i in indices],
            [self.allowed[i] for i in indices],
            [self.weights[i] for i in indices],
            self.scored,
            None if self.soft is None else self.soft[indices],
        )

    @staticmethod
    def concat(splits: list[EncodedSplit], name: str) -> EncodedSplit:
        softs = [s.soft for s in splits if s.soft is not None]
        soft = None
        if softs:
            width = softs[0].shape[1]
            soft = np.concatenate(
                [s.soft if s.soft is not None else np.full((len(s), width), np.nan) for s in splits]
            ).astype(np.float32)
        return EncodedSplit(
            name,
            [r for s in splits for r in s.rows],
            [y for s in splits for y in s.labels],
            [a for s in splits for a in s.allowed],
            [w for s in splits for w in s.weights],
            soft=soft,
        )


@dataclass
class FileSplit:
    """One training file, carved: what trains and what validates."""

    entry: DataFile
    train: LabelledTexts
    validation: LabelledTexts


def read_options(config: TrainConfig, entry: DataFile) -> ReadOptions:
    return ReadOptions(
        labels=tuple(config.labels),
        file_labels=tuple(entry.labels),
        label_values=tuple(config.label_values),
        text_column=config.text_column,
        label_column=config.label_column,
        file_format=entry.file_format or config.file_format,
        empty_text=config.empty_text,
        unescape=entry.unescape,
        others_absent=entry.other_labels == "absent",
    )


def _sample(data: LabelledTexts, limit: int, seed: int) -> LabelledTexts:
    if not limit or len(data) <= limit:
        return data
    picked = sorted(random.Random(seed).sample(range(len(data)), limit))
    return data.subset(picked)


def read_file(config: TrainConfig, entry: DataFile, path: str | None = None) -> LabelledTexts:
    """Every row of `entry` (or of `path` read with entry's options), sampled if asked."""
    data = read_labelled(config.resolve(path or entry.file), read_options(config, entry))
    limits = [n for n in (entry.max_rows, config.max_train_rows) if n]
    return _sample(data, min(limits) if limits else 0, config.seed)


def carve(config: TrainConfig, entry: DataFile) -> FileSplit:
    """Split one training file by its `validation` rule: a strategy, or a file of its own."""
    rule = entry.validation or config.val_split
    data = read_file(config, entry)
    if rule == "none":  # every row trains (a lexicon); the file is left out of validation
        train, validation = data, data.subset([])
    elif rule in VALIDATION_SPLITS:
        train, validation = validation_split(data, config.val_fraction, rule, config.seed)
    else:
        train, validation = data, read_file(config, entry, rule)
    log.info("%s: %d train, %d validation rows", entry.file, len(train), len(validation))
    return FileSplit(entry, train.weighted(entry.weight), validation)


def read_training_files(config: TrainConfig) -> list[FileSplit]:
    return [carve(config, entry) for entry in config.train_files]


def read_test_sets(config: TrainConfig) -> dict[str, LabelledTexts]:
    """Name -> rows of every test file (a hash-split file gives the tenth training never saw)."""
    sets = {}
    for entry in config.test_files:
        data = read_labelled(config.resolve(entry.file), read_options(config, entry))
        sets[entry.name] = hash_part(data, "test") if entry.part == "hash-test" else data
    return sets


def ngram_fit_rows(splits: list[FileSplit]) -> list[int]:
    """Rows of the concatenated training split that the n-gram member is fitted on."""
    rows, start = [], 0
    for split in splits:
        if split.entry.ngram:
            rows.extend(range(start, start + len(split.train)))
        start += len(split.train)
    return rows


def save_validation(splits: list[FileSplit], run_dir: Path) -> Path:
    """The validation rows of every file, so export measures on exactly what training did."""
    path = run_dir / VALIDATION_NAME
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for split in splits:
            data = split.validation
            for text, label, allowed in zip(data.texts, data.labels, data.allowed, strict=True):
                record = {"file": split.entry.name, "text": text, "label": label}
                record |= {"allowed": allowed, "scored": data.scored}
                handle.write(json.dumps(record, ensure_ascii=False))
                handle.write("\n")
    return path


def load_validation(run_dir: Path) -> dict[str, LabelledTexts]:
    """File name -> its validation rows, as `save_validation` wrote them."""
    sets: dict[str, LabelledTexts] = {}
    with gzip.open(run_dir / VALIDATION_NAME, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            name = record["file"]
            data = sets.setdefault(name, LabelledTexts([], [], name, [], [], record["scored"]))
            data.texts.append(record["text"])
            data.labels.append(record["label"])
            data.allowed.append(record["allowed"])
            data.weights.append(1.0)
    return sets


def truncation_of(config: TrainConfig) -> Truncation:
    return Truncation(max_length=config.max_length, head_tokens=config.head_tokens)


def fit_or_load_encoder(
    config: TrainConfig, train: LabelledTexts, out_dir: Path, fit: bool
) -> TextEncoder:
    """Fit the tokenizer on the training split (main process) or load the one already saved."""
    path = out_dir / TOKENIZER_NAME
    if fit and not path.exists():
        tokenizer = train_tokenizer(train.texts, config)
        tokenizer.save(str(path))
        log.info(
            "tokenizer: %s, %d tokens, saved to %s",
            config.tokenizer,
            tokenizer.get_vocab_size(),
            path,
        )
    return TextEncoder.from_file(path, truncation_of(config))


def encode(encoder: TextEncoder, data: LabelledTexts, name: str) -> EncodedSplit:
    rows = encoder.ids_only(data.texts)
    labels, allowed, weights = list(data.labels), list(data.allowed), list(data.weights)
    return EncodedSplit(name, rows, labels, allowed, weights, data.scored)
