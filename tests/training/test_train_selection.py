"""The score that picks the best epoch: files alike, or by the square root of their sizes."""

import math

from training.train import validation_score


def test_files_count_alike_by_default() -> None:
    assert validation_score([0.9, 0.5], [10_000, 100], "files") == 0.7


def test_sqrt_rows_lets_a_big_file_outweigh_a_small_ones_noise() -> None:
    # epoch A: the 100-text file 4 points better; epoch B: the 10,000-text file 1 point better
    a = validation_score([0.80, 0.74], [10_000, 100], "sqrt_rows")
    b = validation_score([0.81, 0.70], [10_000, 100], "sqrt_rows")
    assert b > a
    assert validation_score([0.81, 0.70], [10_000, 100], "files") < validation_score(
        [0.80, 0.74], [10_000, 100], "files"
    )
    assert math.isclose(validation_score([0.5, 0.5], [4, 9], "sqrt_rows"), 0.5)
