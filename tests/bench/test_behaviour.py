"""The behavioural suite (bench/behaviour.py): its shape, and the shipped bundles' pass rate per
capability held above a floor (the served path: cascade included).

The floors are the rates measured when the bundles were exported (bench/results/quality-*.json),
rounded down to the next 5 points, so a bundle or tokenizer change that breaks a capability
fails here; the 85% goal of the models issue is reported in docs/training.md, not asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.behaviour import Case, english_suite, korean_suite, run_suite
from model.bundle import load_bundle
from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

SHIPPED = REPO / "model" / "bundles"
FLOORS: dict[str, dict[str, float]] = {
    # 2.1.0 (distilled): negation 0.55 -> 0.77, neutral statements 0.42 -> 0.71, contrast 0.92 ->
    # 0.97 against 2.0.1, for emoji 0.60 -> 0.55 and elongation 0.83 -> 0.79; 2.2.0: contrast
    # 1.0, emoji 0.60, elongation 0.75; 2.3.0: negation 0.82, emoji 0.75, elongation 0.83, and
    # neutral statements 0.71 -> 0.62, level with the teacher; 2.4.0: negation 0.86, emoji 0.65
    # (bare doubled emoji near a three-way tie, and facts with an emoji read neutral),
    # elongation 0.79; 2.5.0: negation 0.89, emoji 0.75, neutral statements 0.67, short answers
    # 0.97, and contrast 1.0 -> 0.97 (one case of 36); 2.6.0 (misspelt copies): typos 0.79 ->
    # 0.96, negation 0.91, contrast 1.0, for emoji 0.72 and neutral statements 0.62 (one and two
    # cases fewer; docs/training.md)
    "sentiment-en": {
        "negation": 0.9,
        "intensifiers and hedges": 1.0,
        "contrast": 1.0,
        "emoji": 0.7,
        "elongation and typos": 0.95,
        "all caps": 1.0,
        "mentions and links": 1.0,
        "neutral statements": 0.6,
        "short answers": 0.95,
    },
    "sentiment-ko": {
        "vocabulary": 1.0,
        "negation": 0.65,
        "contrast": 1.0,
        "short answers": 1.0,
    },
}


def test_english_suite_covers_every_capability_with_enough_cases() -> None:
    cases = english_suite()
    per_capability: dict[str, int] = {}
    for case in cases:
        per_capability[case.capability] = per_capability.get(case.capability, 0) + 1
    assert len(cases) >= 300
    assert len(per_capability) == 9
    assert min(per_capability.values()) >= 15, per_capability
    assert len({c.text for c in cases}) == len(cases), "duplicate texts"


def test_run_suite_counts_passes_and_keeps_failures() -> None:
    cases = [
        Case("a", "x", ("positive",)),
        Case("a", "y", ("negative",)),
        Case("b", "z", ("neutral",)),
    ]
    results = run_suite(cases, lambda texts: ["positive"] * len(texts))
    assert [(r.capability, r.passed, r.total) for r in results] == [("a", 1, 2), ("b", 0, 1)]
    assert results[0].failures == [("y", "positive")]


def served_labels(bundle_dir: Path):
    from training.onnx_classifier import OnnxClassifier

    bundle = load_bundle(bundle_dir)
    classifier = OnnxClassifier(bundle, cascade=bool(bundle.manifest.cascade))
    labels = bundle.manifest.labels

    def predict(texts: list[str]) -> list[str]:
        return [labels[i] for i in classifier.predict_proba(texts).argmax(axis=1)]

    return predict


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_shipped_bundle_holds_its_floor_per_capability(name: str) -> None:
    cases = english_suite() if name.endswith("-en") else korean_suite()
    results = run_suite(cases, served_labels(SHIPPED / name))
    rates = {r.capability: r.rate for r in results}
    assert set(rates) == set(FLOORS[name]), "a capability without a floor, or a floor without one"
    below = {c: round(rate, 3) for c, rate in rates.items() if rate < FLOORS[name][c]}
    assert not below, f"{name} below its floor: {below} (floors {FLOORS[name]})"
