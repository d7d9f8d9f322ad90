"""Length-bucketed training batches: every row once, little padding, seeded order, even shards."""

import numpy as np
import pytest
import torch

from training.batching import bucketed_batches, make_batches, shard, sorted_batches
from training.prepare import EncodedSplit

LENGTHS = [5, 90, 3, 40, 41, 2, 88, 7, 39, 6, 91, 4]


def test_every_row_is_in_exactly_one_batch() -> None:
    batches = bucketed_batches(LENGTHS, batch_size=3, pool_batches=2, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    assert all(len(b) <= 3 for b in batches)


def test_pools_sorted_by_length_pad_less_than_random_batches() -> None:
    def padding(batches: list[list[int]]) -> int:
        return sum(
            len(b) * max(LENGTHS[i] for i in b) - sum(LENGTHS[i] for i in b) for b in batches
        )

    pooled = bucketed_batches(LENGTHS, batch_size=3, pool_batches=4, seed=1)
    unpooled = bucketed_batches(LENGTHS, batch_size=3, pool_batches=0, seed=1)
    assert padding(sorted_batches(LENGTHS, 3)) <= padding(pooled) < padding(unpooled)


def test_the_same_seed_gives_the_same_batches_and_another_seed_others() -> None:
    first = bucketed_batches(LENGTHS, 3, 2, seed=7)
    assert bucketed_batches(LENGTHS, 3, 2, seed=7) == first
    assert bucketed_batches(LENGTHS, 3, 2, seed=8) != first


def test_evaluation_batches_are_sorted_and_deterministic() -> None:
    batches = sorted_batches(LENGTHS, 5)
    flat = [LENGTHS[i] for b in batches for i in b]
    assert flat == sorted(LENGTHS) and [len(b) for b in batches] == [5, 5, 2]


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_shards_have_equal_counts_and_never_share_a_batch(world_size: int) -> None:
    batches = [[i] for i in range(10)]
    shards = [shard(batches, rank, world_size) for rank in range(world_size)]
    assert len({len(s) for s in shards}) == 1
    seen = [b[0] for s in shards for b in s]
    assert len(seen) == len(set(seen)) == 10 - 10 % world_size


def test_batches_carry_padded_ids_labels_and_their_rows() -> None:
    split = EncodedSplit("t", [[5, 6, 7], [8]], [1, 0], [3, 3], [1.0, 0.5])
    (batch,) = make_batches(split, [[1, 0]])
    assert batch.input_ids.tolist() == [[8, 0, 0], [5, 6, 7]]
    assert batch.labels.tolist() == [0, 1] and batch.rows == [1, 0]
    assert batch.weights.tolist() == [0.5, 1.0]


def test_batches_carry_teacher_logits_row_for_row():
    soft = np.array([[1.0, 2.0], [np.nan, np.nan]], dtype=np.float32)
    split = EncodedSplit("t", [[5, 6, 7], [8]], [1, -1], [3, 3], [1.0, 0.5], soft=soft)
    (batch,) = make_batches(split, [[1, 0]])
    assert torch.isnan(batch.soft[0]).all() and batch.soft[1].tolist() == [1.0, 2.0]
    joined = EncodedSplit.concat([split, EncodedSplit("u", [[4]], [0], [3], [1.0])], "all")
    assert joined.soft.shape == (3, 2) and np.isnan(joined.soft[2]).all()
