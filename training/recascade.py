"""Choose a shipped bundle's cascade length rule again from its own ONNX graphs, without the
run's checkpoint: `python -m training cascade-lengths --bundle DIR --config TOML`.

The validation rows are carved from the config's training files exactly as training carved
them (same seed, same rules); the threshold stays as exported. The new `min_tokens`, its counts
per length bucket, the validation report and the served path's metrics on every validation and
test set are written to the manifest and the model card, with the config's version and notes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from model.bundle import CARD_FILE, Bundle, BundleError, load_bundle, write_manifest
from model.runtime import softmax
from training.card import render_card
from training.cascade import FileOutcome, length_rule, outcomes
from training.config import TrainConfig
from training.data import LabelledTexts
from training.onnx_classifier import OnnxClassifier, logits_for_rows
from training.package import measure_cascade
from training.prepare import EncodedSplit, encode, read_test_sets, read_training_files

log = logging.getLogger(__name__)
BATCH = 64


def validation_outcomes(bundle: Bundle, validation: dict[str, LabelledTexts]) -> list[FileOutcome]:
    """Both graphs' probabilities on each training file's validation rows."""
    classifier = OnnxClassifier(bundle, "fp32", cascade=True)
    files = [encode(classifier.encoder, data, name) for name, data in validation.items()]
    joined = EncodedSplit.concat(files, "validation")
    width = len(bundle.manifest.labels)
    assert classifier.fast is not None, "the bundle has no cascade"
    fast, full = (
        softmax(logits_for_rows(session, joined.rows, width, BATCH)).astype(np.float64)
        for session in (classifier.fast, classifier.session)
    )
    return outcomes(fast, full, files, width)


def refit_length_rule(bundle_dir: Path, config: TrainConfig) -> dict[str, object]:
    """Choose `min_tokens` again on `config`'s validation rows; record it, its report and the
    served metrics in the bundle, with `config`'s version, release notes and known limits."""
    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    if not manifest.cascade:
        raise BundleError(f"{bundle_dir} has no cascade; there is no length rule to choose")
    splits = read_training_files(config)
    validation = {s.entry.name: s.validation for s in splits if len(s.validation)}
    files = validation_outcomes(bundle, validation)
    manifest.cascade.update(length_rule(files, manifest.cascade["threshold"]))
    manifest.version = config.version
    manifest.training_config = {
        **manifest.training_config,
        "version": config.version,
        "release_notes": list(config.release_notes),
        "known_limits": list(config.known_limits),
    }
    held = {f"validation:{name}": data for name, data in validation.items()}
    measure_cascade(bundle, manifest, list(config.labels), {**held, **read_test_sets(config)})
    (bundle.directory / CARD_FILE).write_text(render_card(manifest), encoding="utf-8")
    write_manifest(bundle.directory, manifest)
    return {"min_tokens": manifest.cascade["min_tokens"], "version": manifest.version}
