"""The one cascade rule: which rows the fast graph answers."""

from __future__ import annotations

import numpy as np
import pytest

from model.cascade import NO_CASCADE, CascadeRule

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def test_rows_at_or_above_the_threshold_are_confident() -> None:
    probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.85, 0.15]], dtype=np.float32)
    assert CascadeRule(0.85).confident(probs).tolist() == [True, False, True]


def test_no_cascade_answers_no_row_and_zero_answers_every_row() -> None:
    probs = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert not CascadeRule(NO_CASCADE).confident(probs).any()
    assert CascadeRule(0.0).confident(probs).all()


def test_shorter_rows_never_try_the_fast_graph() -> None:
    rule = CascadeRule(0.0, min_tokens=65)
    assert rule.tries([5, 64, 65, 512]).tolist() == [False, False, True, True]
    probs = np.full((4, 2), 0.5)
    assert rule.fast_rows(probs, [5, 64, 65, 512]).tolist() == [False, False, True, True]


def test_probabilities_are_compared_in_float32() -> None:
    # a threshold chosen at export is a float32 probability; a float64 probability that rounds
    # to it reaches it, whichever precision the caller computed in
    threshold = float(np.float32(0.8425471))
    below = np.nextafter(threshold, 0.0)  # float64, under the threshold by one float64 step
    probs32 = np.array([[threshold, 1 - threshold]], dtype=np.float32)
    probs64 = np.array([[below, 1 - below]])
    rule = CascadeRule(threshold)
    assert rule.confident(probs32).tolist() == rule.confident(probs64).tolist() == [True]


def test_the_manifest_states_the_rule() -> None:
    assert CascadeRule.from_manifest({}) == CascadeRule(NO_CASCADE, 0)
    stated = CascadeRule.from_manifest({"threshold": 0.84, "min_tokens": 65, "file": "fast.onnx"})
    assert stated == CascadeRule(0.84, 65)
