"""Scores of predicted probabilities: calibration error, and the floor a small set puts under it."""

from __future__ import annotations

import numpy as np

from training.quality import calibrated_ece, expected_calibration_error


def _confident(n: int, top: float, seed: int) -> np.ndarray:
    """[n, 2] probabilities with the top label at `top`, on a random side."""
    side = np.random.default_rng(seed).random(n) < 0.5
    return np.stack([np.where(side, top, 1 - top), np.where(side, 1 - top, top)], axis=1)


def test_calibration_error_is_the_gap_between_confidence_and_accuracy() -> None:
    probabilities = _confident(1000, 0.9, seed=0)
    right = probabilities.argmax(1)
    assert abs(expected_calibration_error(probabilities, right) - 0.1) < 1e-9
    wrong_half = right.copy()
    wrong_half[::2] = 1 - wrong_half[::2]
    assert abs(expected_calibration_error(probabilities, wrong_half) - 0.4) < 1e-9


def test_a_calibrated_model_still_shows_calibration_error_on_a_small_set() -> None:
    small = calibrated_ece(_confident(300, 0.85, seed=1))
    large = calibrated_ece(_confident(30000, 0.85, seed=1))
    assert small > 0.01 and large < 0.005 and small > 4 * large
    # labels really drawn from those probabilities land near the floor on average
    probabilities = _confident(300, 0.85, seed=2)
    rng = np.random.default_rng(5)
    measured = [
        expected_calibration_error(probabilities, (rng.random(300) < probabilities[:, 1]) * 1)
        for _ in range(200)
    ]
    assert abs(np.mean(measured) - calibrated_ece(probabilities)) < 0.004


def test_the_floor_is_repeatable_and_near_zero_for_certain_answers() -> None:
    probabilities = _confident(500, 0.999, seed=3)
    assert calibrated_ece(probabilities) == calibrated_ece(probabilities)
    assert calibrated_ece(probabilities) < 0.003
