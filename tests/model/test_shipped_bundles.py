"""The bundles shipped in model/bundles: intact, within budget, and as accurate as promised.

The accuracies are the ones `python -m training export` measured with ONNX Runtime on the
official test splits and wrote into each manifest; these tests keep a re-export honest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.bundle import load_bundle
from tests.factories import REPO

BUNDLES = REPO / "model" / "bundles"
# (bundle, evaluation set, accuracy it must reach): the targets of the training issue
TARGETS = [
    ("sentiment-en", "imdb-test", 0.915),
    ("sentiment-en", "sst2-sent_test", 0.850),
    ("sentiment-ko", "nsmc-ratings_test", 0.880),
]
MAX_BYTES = 25_000_000


def shipped(name: str) -> Path:
    folder = BUNDLES / name
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: the service's default models must ship with the repo")
    return folder


@pytest.mark.parametrize("name", sorted({name for name, _, _ in TARGETS}))
def test_bundle_is_intact_and_within_budget(name: str) -> None:
    bundle = load_bundle(shipped(name))  # verifies every sha256
    size = sum(p.stat().st_size for p in bundle.directory.iterdir())
    assert size <= MAX_BYTES, f"{name} is {size:,} bytes"
    assert bundle.manifest.default_variant == "fp32"


@pytest.mark.parametrize(("name", "split", "target"), TARGETS)
def test_bundle_reaches_its_accuracy_target(name: str, split: str, target: float) -> None:
    manifest = load_bundle(shipped(name)).manifest
    for key, variant in manifest.variants.items():
        assert variant.metrics[split]["accuracy"] >= target, (key, variant.metrics[split])
