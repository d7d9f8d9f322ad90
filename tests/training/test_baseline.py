"""`python -m training baseline`: a bundle's drift baseline measured from its own graphs on the
validation rows its config carves, written into its manifest (re-runnable), and at export."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.bundle import load_bundle
from training.baseline import write_baseline
from training.config import config_from_dict


def test_export_writes_a_baseline_of_the_validation_rows(bundles_root: Path) -> None:
    manifest = load_bundle(bundles_root / "tiny-en").manifest
    validation = sum(m["n"] for k, m in manifest.metrics.items() if k.startswith("validation:"))
    assert manifest.baseline["rows"] == validation
    assert set(manifest.baseline["label_shares"]) == set(manifest.labels)
    assert set(manifest.baseline["by_source"]) == {
        k.removeprefix("validation:") for k in manifest.metrics if k.startswith("validation:")
    }


def test_command_rewrites_the_baseline_and_the_bundle_still_verifies(
    model_dir: Path, data_dir: Path
) -> None:
    folder = model_dir / "tiny-ko"
    before = load_bundle(folder).manifest
    config = config_from_dict(before.training_config)
    first = write_baseline(folder, config, max_rows=50)
    again = write_baseline(folder, config, max_rows=50)  # re-runnable: same rows, same figures
    assert load_bundle(folder).manifest.baseline == again  # every sha256 still holds
    assert first["label_shares"] == again["label_shares"] and again["rows"] == 50
    assert "at most 50 per file" in again["source"]
    nsmc = again["by_source"]["nsmc-ratings_train"]
    assert again["mean_confidence"] == pytest.approx(nsmc["mean_confidence"])
