"""The batch function's length buckets and worker-side tokenization, on a real tiny bundle."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from app.registry import load_model
from app.runtime import RuntimeConfig
from app.scoring import bucketed_probabilities, length_groups, probabilities, score_batch


def test_equal_lengths_stay_one_group() -> None:
    assert length_groups([7] * 32) == [(0, 32)]


def test_groups_cover_every_row_in_order() -> None:
    lengths = sorted([3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 512, 512])
    groups = length_groups(lengths)
    assert groups[0][0] == 0 and groups[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in pairwise(groups))


def test_very_different_lengths_are_split() -> None:
    assert len(length_groups([4] * 16 + [500] * 16)) == 2


def test_a_lone_short_row_joins_its_neighbours() -> None:
    """A call has a fixed cost: one row is not worth a call of its own to save little padding."""
    assert length_groups([10, 11, 12, 12]) == [(0, 4)]


@pytest.fixture(scope="module")
def tiny_en(bundles_root: Path):
    return load_model(bundles_root / "tiny-en", "fp32", RuntimeConfig(providers="cpu"))


def test_buckets_give_the_same_probabilities(tiny_en) -> None:
    texts = ["bad", "a fine film " * 30, "great", "dull and long " * 8, "ok " * 50]
    rows = [e.ids for e in tiny_en.encoder.encode_batch(texts)]
    whole = np.array(probabilities(tiny_en.runtime, rows))
    bucketed = np.array(bucketed_probabilities(tiny_en.runtime, rows))
    np.testing.assert_allclose(bucketed, whole, atol=1e-6)


def test_worker_tokenizes_raw_texts_like_the_request_would(tiny_en) -> None:
    encoded = tiny_en.encoder.encode("a moving story")
    scored = score_batch(tiny_en, ["a moving story", encoded])
    assert scored[0].encoded.ids == scored[1].encoded.ids
    assert scored[0].probabilities == pytest.approx(scored[1].probabilities, abs=1e-6)
    assert scored[0].tokenize_s >= 0
