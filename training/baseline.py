"""A bundle's drift baseline from its own ONNX graphs: `python -m training baseline --bundle DIR
--config TOML [--max-rows N]`, also run by `export`.

Scores the validation rows (carved from the config's training files exactly as training carved
them, or the run's saved validation rows at export) along the served path (the cascade's fast
graph first, as the service runs it by default, on the default variant), and writes into the
manifest's `baseline`: the share of each predicted label, the mean top probability and the
token-count distribution, in the buckets of the service's metrics (`model.drift`). Only
`manifest.json` changes, so every file checksum still holds; re-running it replaces the baseline.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from model.bundle import Bundle, load_bundle, write_manifest
from model.drift import compute_baseline
from training.config import TrainConfig
from training.data import LabelledTexts
from training.onnx_classifier import OnnxClassifier
from training.prepare import read_training_files

log = logging.getLogger(__name__)


def sample(data: LabelledTexts, limit: int, seed: int) -> list[str]:
    """At most `limit` texts of `data` (0 = all), a seeded random choice in file order."""
    if not limit or len(data) <= limit:
        return list(data.texts)
    picked = sorted(random.Random(seed).sample(range(len(data)), limit))
    return [data.texts[i] for i in picked]


def measure_baseline(
    bundle: Bundle, validation: dict[str, list[str]], source: str
) -> dict[str, Any]:
    """The baseline of `bundle` on the texts of every validation file, pooled; each file's own
    label shares and mean confidence are kept under `by_source` (to judge alert margins)."""
    classifier = OnnxClassifier(bundle, bundle.manifest.default_variant, cascade=True)
    labels = bundle.manifest.labels
    probabilities, lengths, by_source = [], [], {}
    for name, texts in validation.items():
        rows = classifier.encoder.ids_only(texts)
        probs = classifier.probabilities_for_rows(rows)
        part = compute_baseline(probs, [len(r) for r in rows], labels, name)
        by_source[name] = {k: part[k] for k in ("rows", "label_shares", "mean_confidence")}
        probabilities.append(probs)
        lengths.extend(len(r) for r in rows)
        log.info("baseline %s: %s", name, by_source[name])
    baseline = compute_baseline(np.concatenate(probabilities), lengths, labels, source)
    return {**baseline, "by_source": by_source}


def write_baseline(bundle_dir: Path, config: TrainConfig, max_rows: int = 0) -> dict[str, Any]:
    """Measure the baseline of the bundle at `bundle_dir` on `config`'s validation rows (at most
    `max_rows` per file, 0 = all) and store it in its manifest; returns the baseline."""
    bundle = load_bundle(bundle_dir)
    splits = read_training_files(config)
    validation = {
        s.entry.name: sample(s.validation, max_rows, config.seed)
        for s in splits
        if len(s.validation)
    }
    limit = f"at most {max_rows} per file" if max_rows else "all"
    source = f"validation rows of {config.name} {config.version} ({limit})"
    bundle.manifest.baseline = measure_baseline(bundle, validation, source)
    write_manifest(bundle.directory, bundle.manifest)
    load_bundle(bundle_dir)  # still verifies
    return bundle.manifest.baseline
