"""Length-bucketed batches: shuffle, sort within pools of similar length, shuffle the batches.

Sorting a pool of `pool_batches * batch_size` rows by length before cutting it into batches cuts
the padding (and so the wasted recurrent steps) several-fold, while the pools and the batch order
stay random from epoch to epoch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from model.text import pad_batch


class LabelledRows(Protocol):
    """Token ids with what the loss needs per row (`training.prepare.EncodedSplit`)."""

    rows: list[list[int]]
    labels: list[int]
    allowed: list[int]
    weights: list[float]
    soft: np.ndarray | None  # teacher logits [N, C]; NaN rows have none


@dataclass(frozen=True)
class Batch:
    input_ids: Tensor  # int64 [B, T], right-padded with 0
    labels: Tensor  # int64 [B]
    allowed: Tensor  # int64 [B] bit masks of the labels each row could have had
    weights: Tensor  # float32 [B] loss weight of each row
    rows: list[int]  # dataset row of each batch row
    soft: Tensor | None = None  # float32 [B, C] teacher logits; NaN rows have none


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, pool_batches: int, seed: int
) -> list[list[int]]:
    """Row indices grouped into batches of similar length, in a seeded random order."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * max(1, pool_batches)
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches for evaluation: rows sorted by length, then cut."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def shard(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's share; every rank gets the same count so collective calls stay in step."""
    usable = len(batches) - len(batches) % world_size
    return batches[rank:usable:world_size]


def make_batches(split: LabelledRows, index_batches: list[list[int]]) -> Iterator[Batch]:
    for indices in index_batches:
        ids = torch.from_numpy(pad_batch([split.rows[i] for i in indices]))
        yield Batch(
            ids,
            torch.tensor([split.labels[i] for i in indices]),
            torch.tensor([split.allowed[i] for i in indices]),
            torch.tensor([split.weights[i] for i in indices], dtype=torch.float32),
            indices,
            None if split.soft is None else torch.from_numpy(split.soft[indices]),
        )
