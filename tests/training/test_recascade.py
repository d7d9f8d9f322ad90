"""`python -m training cascade-lengths`: a bundle's length rule chosen again from its own graphs,
on the validation rows its config carves, recorded in its manifest and card."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.bundle import CARD_FILE, load_bundle
from training.cascade import MIN_FAST_FRACTION
from training.config import config_from_dict
from training.onnx_classifier import OnnxClassifier
from training.recascade import refit_length_rule


def test_rule_is_chosen_recorded_and_served(model_dir: Path, data_dir: Path) -> None:
    folder = model_dir / "tiny-en"
    before = load_bundle(folder).manifest
    config = config_from_dict(before.training_config).replace(version="1.0.1")
    result = refit_length_rule(folder, config)
    bundle = load_bundle(folder)  # still verifies: every file's sha256 is unchanged
    cascade = bundle.manifest.cascade
    assert result == {"min_tokens": cascade["min_tokens"], "version": "1.0.1"}
    assert bundle.manifest.version == "1.0.1"
    assert cascade["threshold"] == before.cascade["threshold"]
    counts = cascade["fast_by_length"]
    validation_rows = sum(m["n"] for k, m in cascade["metrics"].items() if "validation" in k)
    assert sum(n for n, _ in counts.values()) == validation_rows
    for bucket, (texts, fast) in counts.items():  # every bucket at or above the rule pays
        if int(bucket.removeprefix("<=")) >= cascade["min_tokens"] and texts >= 30:
            assert fast >= MIN_FAST_FRACTION * texts
    assert (folder / CARD_FILE).read_text().startswith("# tiny-en 1.0.1")


def test_served_path_never_tries_the_fast_graph_below_min_tokens(model_dir: Path) -> None:
    bundle = load_bundle(model_dir / "tiny-en")
    bundle.manifest.cascade |= {"threshold": 0.0, "min_tokens": 5}  # every try is answered
    classifier = OnnxClassifier(bundle, "fp32", cascade=True)
    rows = [[7] * n for n in (1, 3, 4, 5, 6, 20)]
    classifier.probabilities_for_rows(rows)
    assert (classifier.rows_seen, classifier.rows_fast) == (6, 3)


def test_a_bundle_without_a_cascade_is_refused(model_dir: Path) -> None:
    from model.bundle import BundleError

    with pytest.raises(BundleError, match="no cascade"):
        refit_length_rule(model_dir / "tiny-ko", config_from_dict({}))
