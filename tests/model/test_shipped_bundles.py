"""The bundles shipped in model/bundles: intact, within budget, and no worse than released.

The scores are the ones `python -m training export` measured with ONNX Runtime on the
official test splits and wrote into each manifest; the floors are the current releases' figures
(sentiment-en 2.6.0, sentiment-ko 2.1.0) rounded down, so a re-export that loses accuracy fails
here. The distillation issue's goals (IMDB 91.5 served, SST-2 88.0, TweetEval 66.0 macro recall,
NSMC 88.0) are reached; the behaviour and ECE goals not all: docs/training.md reports each
figure beside its goal. 2.6.0
traded SemEval (restaurants 0.709 -> 0.680, laptops 0.691 -> 0.681) and 0.1 point of IMDB's whole
model (served: 91.72) for TweetEval, Alexa, Sanders and typos (docs/training.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.bundle import load_bundle
from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

BUNDLES = REPO / "model" / "bundles"
# (bundle, evaluation set, metric, the current release's figure rounded down)
TARGETS = [
    ("sentiment-en", "imdb-test", "accuracy", 0.914),
    ("sentiment-en", "sst2-sent_test", "accuracy", 0.890),
    ("sentiment-en", "tweeteval-test", "macro_recall", 0.660),
    ("sentiment-en", "semeval14-absa-restaurants_test", "macro_recall", 0.680),
    ("sentiment-en", "semeval14-absa-laptops_test", "macro_recall", 0.681),
    ("sentiment-ko", "nsmc-ratings_test", "accuracy", 0.882),
]
MAX_BYTES = 25_000_000


def shipped(name: str) -> Path:
    folder = BUNDLES / name
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: the service's default models must ship with the repo")
    return folder


@pytest.mark.parametrize("name", sorted({target[0] for target in TARGETS}))
def test_bundle_is_intact_and_within_budget(name: str) -> None:
    bundle = load_bundle(shipped(name))  # verifies every sha256
    size = sum(p.stat().st_size for p in bundle.directory.iterdir())
    assert size <= MAX_BYTES, f"{name} is {size:,} bytes"
    assert bundle.manifest.default_variant == "fp32"


@pytest.mark.parametrize(("name", "split", "metric", "floor"), TARGETS)
def test_bundle_holds_its_release_floor(name: str, split: str, metric: str, floor: float) -> None:
    manifest = load_bundle(shipped(name)).manifest
    for key, variant in manifest.variants.items():
        assert variant.metrics[split][metric] >= floor, (key, variant.metrics[split])


@pytest.mark.parametrize("name", sorted({target[0] for target in TARGETS}))
def test_served_cascade_stays_within_a_fifth_of_a_point_of_the_whole_model(name: str) -> None:
    manifest = load_bundle(shipped(name)).manifest
    whole = manifest.variants["fp32"].metrics
    drops = {
        split: round(100 * (whole[split]["accuracy"] - served["accuracy"]), 2)
        for split, served in manifest.cascade["metrics"].items()
    }
    allowed = {"kobest-sentineg-test"}  # negation rewrites: a known 2-point gap, docs/training.md
    assert {s: d for s, d in drops.items() if d > 0.2 and s not in allowed} == {}, drops


def test_english_int8_variant_stays_within_a_fifth_of_a_point_of_fp32() -> None:
    """The int8 graph (SENTIMENT_VARIANT=int8) on every test set: the speed issue's bar for
    serving it. (Validation sets are not held to it: on SemEval laptops' 127 texts one answer
    is 0.8 points.)"""
    manifest = load_bundle(shipped("sentiment-en")).manifest
    fp32, int8 = (manifest.variants[key].metrics for key in ("fp32", "int8"))
    tests = [split for split in fp32 if not split.startswith("validation:")]
    drops = {s: round(100 * (fp32[s]["accuracy"] - int8[s]["accuracy"]), 2) for s in tests}
    assert len(tests) >= 7 and max(drops.values()) <= 0.2, drops
