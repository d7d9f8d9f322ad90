"""Builders of tiny real things for tests: labelled files, trained runs, exported bundles."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("SENTIMENT_DATA_DIR", REPO.parent / "shared" / "data"))
# Tiny bundles trained by earlier test sessions, keyed by everything that shapes them (the
# training code, the bundle contract, this file, the data files), so that a session whose key
# is unchanged copies them instead of training again.
BUNDLE_CACHE = REPO / ".pytest_cache" / "tiny-bundles"
# The same two bundles, committed: what the app, bulk and deploy tests serve, so they need
# neither torch nor the data. `python -m tests.factories` writes them again from today's code.
FIXTURE_BUNDLES = REPO / "tests" / "fixtures" / "bundles"

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


def require_data() -> Path:
    """The shared data folder; fails the test that needs it (only those) when it is missing."""
    if not DATA_DIR.is_dir():
        pytest.fail(
            f"test data not found at {DATA_DIR}; set SENTIMENT_DATA_DIR to the shared data folder"
        )
    return DATA_DIR


def write_lines(path: Path, lines: list[str]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def tiny_config(out_dir: Path, **overrides: Any) -> Any:
    from training.config import config_from_dict

    data_dir = overrides.pop("data_dir", None) or str(require_data())
    values = {**TINY, "data_dir": data_dir, "out_dir": str(out_dir), **overrides}
    return config_from_dict(values)


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


# tiny-en is built like sentiment-en: three labels, a 3-class file beside a binary one whose
# rows also teach "not neutral", and a cascade (fast graph + threshold) in the bundle
ENGLISH: dict[str, Any] = {
    "language": "en",
    "labels": ["negative", "neutral", "positive"],
    "binary_labels": ["negative", "positive"],
    "train_files": [
        {
            "file": "tweeteval/train_rebuilt.tsv.gz",
            "labels": ["negative", "neutral", "positive"],
            "unescape": True,
        },
        {"file": "imdb/train.tsv.gz", "labels": ["negative", "positive"], "other_labels": "absent"},
    ],
    "cascade": True,
}
# tiny-ko: two labels and no cascade (arch "lstm" without the n-gram member's fast graph)
KOREAN: dict[str, Any] = {
    "train_files": ["nsmc/ratings_train.txt.gz"],
    "language": "ko",
    "empty_text": "skip",
    "max_length": 64,
    "head_tokens": 64,
    "cascade": False,
}


def build_english_bundle(work: Path, name: str = "tiny-en") -> Path:
    return build_bundle(work, name, **ENGLISH)


def build_korean_bundle(work: Path, name: str = "tiny-ko") -> Path:
    return build_bundle(work, name, **KOREAN)


def _cache_key() -> str:
    digest = hashlib.sha256()
    sources = [*sorted((REPO / "training").glob("*.py")), *sorted((REPO / "model").glob("*.py"))]
    for path in [*sources, Path(__file__)]:
        digest.update(path.read_bytes())
    for relative in ("tweeteval/train_rebuilt.tsv.gz", "imdb/train.tsv.gz", "nsmc"):
        stat = (DATA_DIR / relative).stat()
        digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def tiny_bundles(work: Path) -> Path:
    """work/bundles holding tiny-en and tiny-ko, and work/runs with their runs: copied from the
    cache, or trained and exported (then cached)."""
    require_data()
    cached = BUNDLE_CACHE / _cache_key()
    if (
        not (cached / "bundles" / "tiny-en").is_dir()
        or not (cached / "bundles" / "tiny-ko").is_dir()
    ):
        build_english_bundle(work)
        build_korean_bundle(work)
        shutil.rmtree(BUNDLE_CACHE, ignore_errors=True)  # older keys are never read again
        for part in ("bundles", "runs"):
            shutil.copytree(work / part, cached / part)
        return work / "bundles"
    for part in ("bundles", "runs"):
        shutil.copytree(cached / part, work / part)
    return work / "bundles"


def fixture_bundles(work: Path) -> Path:
    """work/bundles holding the committed tiny-en and tiny-ko (no training, no data)."""
    shutil.copytree(FIXTURE_BUNDLES, work / "bundles")
    return work / "bundles"


if __name__ == "__main__":  # python -m tests.factories: rebuild the committed fixture bundles
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        built = tiny_bundles(Path(scratch))
        shutil.rmtree(FIXTURE_BUNDLES, ignore_errors=True)
        shutil.copytree(built, FIXTURE_BUNDLES)
    print(f"wrote {FIXTURE_BUNDLES}")
