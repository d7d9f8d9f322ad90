"""Ids to probabilities: length buckets and the cascade's choice of graph, on real tiny bundles."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from app.core.registry import LoadPlan, load_model
from app.core.scoring import Scorer, bucketed_probabilities, length_groups
from app.core.worker import ModelWorker
from model.cascade import FAST, FULL, NO_CASCADE, CascadeRule
from model.runtime import softmax
from model.text import pad_batch

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

TEXTS = ["bad", "a fine film " * 30, "great", "dull and long " * 8, "ok " * 50, "meh"]


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
def tiny_en(bundles_root: Path) -> ModelWorker:
    return load_model(bundles_root / "tiny-en", LoadPlan("fp32"))


@pytest.fixture(scope="module")
def rows(tiny_en: ModelWorker) -> list[list[int]]:
    return [e.ids for e in tiny_en.encoder.encode_batch(TEXTS)]


def test_buckets_give_the_probabilities_of_one_padded_call(tiny_en, rows) -> None:
    whole = softmax(tiny_en.scorer.full.logits(pad_batch(rows)).astype(np.float64))
    bucketed = bucketed_probabilities(tiny_en.scorer.full, rows)
    np.testing.assert_allclose(bucketed, whole, atol=1e-6)


def with_threshold(scorer: Scorer, threshold: float) -> Scorer:
    return Scorer(scorer.full, scorer.fast, CascadeRule(threshold))


def fast_confidence(scorer: Scorer, rows: list[list[int]]) -> np.ndarray:
    assert scorer.fast is not None, "tiny-en is built with a cascade"
    return bucketed_probabilities(scorer.fast, rows).max(axis=1)


def test_rows_at_or_above_the_threshold_take_the_fast_path(tiny_en, rows) -> None:
    confidence = fast_confidence(tiny_en.scorer, rows)
    threshold = float(np.median(confidence))
    scores = with_threshold(tiny_en.scorer, threshold).score(rows, [False] * len(rows))
    assert scores.paths == [FAST if c >= threshold else FULL for c in confidence]
    assert FAST in scores.paths and FULL in scores.paths


def test_each_path_answers_with_its_own_graph(tiny_en, rows) -> None:
    scorer = tiny_en.scorer
    fast = with_threshold(scorer, 0.0).score(rows, [False] * len(rows))
    full = with_threshold(scorer, NO_CASCADE).score(rows, [False] * len(rows))
    assert set(fast.paths) == {FAST} and set(full.paths) == {FULL}
    np.testing.assert_allclose(fast.probabilities, bucketed_probabilities(scorer.fast, rows))
    np.testing.assert_allclose(full.probabilities, bucketed_probabilities(scorer.full, rows))


def test_forced_rows_run_the_full_graph(tiny_en, rows) -> None:
    forced = [i % 2 == 0 for i in range(len(rows))]
    scores = with_threshold(tiny_en.scorer, 0.0).score(rows, forced)
    assert scores.paths == [FULL if f else FAST for f in forced]


def test_without_a_fast_graph_every_row_is_full(tiny_en, rows) -> None:
    scores = Scorer(tiny_en.scorer.full).score(rows, [False] * len(rows))
    assert scores.paths == [FULL] * len(rows) and scores.inference_s > 0
