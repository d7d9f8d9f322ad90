"""Drift buckets and baselines (model/drift.py): Prometheus' `le` semantics, shares, backward
compatibility of manifests without a baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.bundle import MANIFEST, load_bundle
from model.drift import bucket_counts, compute_baseline, cumulative_shares


def test_buckets_hold_values_up_to_and_including_their_bound() -> None:
    counts = bucket_counts(np.array([1, 8, 9, 16, 17, 600]), (8, 16))
    assert counts.tolist() == [2, 2, 2]  # <=8, (8, 16], above 16
    shares = cumulative_shares(counts, (8, 16))
    assert shares == {"8.0": 0.333333, "16.0": 0.666667, "+Inf": 1.0}  # rounded to 6 places


def test_baseline_gives_label_shares_mean_confidence_and_length_shares() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    baseline = compute_baseline(probs, [5, 5, 20, 600], ["neg", "neu", "pos"], "four rows")
    assert baseline["rows"] == 4 and baseline["source"] == "four rows"
    assert baseline["label_shares"] == {"neg": 0.25, "neu": 0.0, "pos": 0.75}
    assert baseline["mean_confidence"] == pytest.approx((0.9 + 0.6 + 0.8 + 0.4) / 4)
    lengths = baseline["length_buckets"]
    assert (lengths["8.0"], lengths["32.0"], lengths["512.0"], lengths["+Inf"]) == (
        0.5,
        0.75,
        0.75,
        1.0,
    )
    assert baseline["confidence_buckets"]["0.4"] == 0.25


def test_a_bundle_without_a_baseline_still_loads(model_dir: Path) -> None:
    folder = model_dir / "tiny-ko"
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.pop("baseline", None)  # as written before baselines existed
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert load_bundle(folder).manifest.baseline == {}


@pytest.mark.parametrize("name", ["sentiment-en", "sentiment-ko"])
def test_shipped_bundles_carry_a_baseline(name: str) -> None:
    from tests.factories import REPO

    baseline = load_bundle(REPO / "model" / "bundles" / name).manifest.baseline
    assert sum(baseline["label_shares"].values()) == pytest.approx(1.0, abs=1e-5)
    assert 0.5 < baseline["mean_confidence"] < 1.0
    assert baseline["length_buckets"]["+Inf"] == 1.0 and baseline["rows"] > 10_000
