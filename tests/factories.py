"""Builders of tiny real things for tests: labelled files, trained runs, exported bundles."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("SENTIMENT_DATA_DIR", REPO.parent / "shared" / "data"))

# Small, fast settings: a few hundred texts, tiny dimensions, one or two epochs.
TINY: dict[str, Any] = {
    "vocab_size": 2000,
    "embed_dim": 16,
    "hidden_dim": 16,
    "max_length": 96,
    "head_tokens": 32,
    "epochs": 1,
    "batch_size": 32,
    "ngram_buckets": 4096,
    "ngram_order": 2,
    "threads": 1,
    "quantize": True,
}


def write_lines(path: Path, lines: list[str]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def tiny_config(out_dir: Path, **overrides: Any) -> Any:
    from training.config import TrainConfig, apply_overrides

    values = {**TINY, "data_dir": str(DATA_DIR), "out_dir": str(out_dir), **overrides}
    return apply_overrides(TrainConfig(), values, from_text=False)


def train_run(out_dir: Path, **overrides: Any) -> Path:
    """Train a tiny model; returns the run folder."""
    from training.train import train

    config = tiny_config(out_dir, **overrides)
    train(config)
    return out_dir


def build_bundle(work: Path, name: str, **overrides: Any) -> Path:
    """Train a tiny model and export it as a real, verified bundle at work/bundles/<name>."""
    from training.package import export_bundle

    defaults = {"name": name, "max_train_rows": 600, "val_split": "random"}
    run = train_run(work / "runs" / name, **{**defaults, **overrides})
    return export_bundle(run, work / "bundles" / name)


def build_english_bundle(work: Path, name: str = "tiny-en") -> Path:
    return build_bundle(work, name, train_files=["imdb/train.tsv.gz"], language="en")


def build_korean_bundle(work: Path, name: str = "tiny-ko") -> Path:
    return build_bundle(
        work,
        name,
        train_files=["nsmc/ratings_train.txt.gz"],
        language="ko",
        empty_text="skip",
        max_length=64,
        head_tokens=64,
    )
