"""Fit the hashed n-gram member as Naive-Bayes-weighted logistic regression (Wang & Manning 2012).

Each text is the set of its hashed id n-grams. Per label c, the log-count ratio r_c[h] measures
how much more often bucket h occurs in texts of label c than in the others; the member's weight is
r_c[h] * w_c[h] with w fitted by full-batch L-BFGS under an L2 penalty. This convex fit takes
seconds, does not overfit like an embedding bag trained by SGD, and gives a strong linear model
whose mistakes differ from the recurrent member's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from model.text import pad_batch
from training.losses import allowed_mask, masked_cross_entropy
from training.models import NgramMember, padding_mask, with_reference_label
from training.prepare import EncodedSplit

log = logging.getLogger(__name__)


def presence_matrix(
    member: NgramMember,
    rows: Sequence[Sequence[int]],
    token_chars: Tensor | None = None,
    chunk: int = 512,
) -> Tensor:
    """Sparse binary matrix [texts, buckets]: 1 where a text holds an n-gram of that bucket."""
    row_index, col_index = [], []
    for start in range(0, len(rows), chunk):
        ids = torch.from_numpy(pad_batch(rows[start : start + chunk]))
        ordered, keep = member.unique_hashes(ids, padding_mask(ids), token_chars)
        keep &= ordered < member.buckets  # drop the padding sentinel
        rows_in_chunk, positions = keep.nonzero(as_tuple=True)
        row_index.append(rows_in_chunk + start)
        col_index.append(ordered[rows_in_chunk, positions])
    indices = torch.stack([torch.cat(row_index), torch.cat(col_index)])
    values = torch.ones(indices.size(1))
    shape = (len(rows), member.buckets)
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=False).coalesce()


def log_count_ratios(
    features: Tensor, labels: Tensor, weights: Tensor, num_labels: int, alpha: float = 1.0
) -> Tensor:
    """r [buckets, labels]: smoothed log ratio of a bucket's (weighted) frequency in texts of
    label c vs in the others."""
    onehot = torch.zeros(len(labels), num_labels)
    onehot[torch.arange(len(labels)), labels] = weights
    per_label = torch.sparse.mm(features.t().coalesce(), onehot).T  # [C, buckets]
    total = per_label.sum(dim=0, keepdim=True)
    inside = per_label + alpha
    outside = total - per_label + alpha
    ratio = (inside / inside.sum(dim=1, keepdim=True)) / (
        outside / outside.sum(dim=1, keepdim=True)
    )
    return ratio.log().T.contiguous()


def fit_ngram_member(
    member: NgramMember,
    split: EncodedSplit,
    l2: float,
    token_chars: Tensor | None = None,
    max_iter: int = 200,
) -> dict[str, float]:
    """Fit the member's table and bias in place; returns the final loss and train accuracy.

    The loss is `training.losses`' (binary rows never see neutral; file weights apply).
    `token_chars` (the model's token -> code points table) is needed for character n-grams.
    """
    features = presence_matrix(member, split.rows, token_chars)
    targets = torch.tensor(split.labels)
    row_weights = torch.tensor(split.weights, dtype=torch.float32)
    num_labels = member.bias.numel()
    mask = allowed_mask(split.allowed, num_labels)
    ratios = log_count_ratios(features, targets, row_weights, num_labels)[:, 1:]  # [buckets, C-1]
    weights = torch.zeros_like(ratios, requires_grad=True)
    bias = torch.zeros(num_labels, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights, bias], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = with_reference_label(torch.sparse.mm(features, ratios * weights)) + bias
        loss = masked_cross_entropy(logits, targets, mask, row_weights)
        loss = loss + l2 * weights.pow(2).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    with torch.no_grad():
        member.table.weight[: member.buckets] = ratios * weights
        member.table.weight[member.buckets] = 0.0
        member.bias.copy_(bias)
        logits = member_logits_from(features, member).masked_fill(~mask, float("-inf"))
        accuracy = (logits.argmax(1) == targets).float().mean()
    log.info(
        "n-gram member: %d texts, %d n-gram occurrences, train accuracy %.4f",
        len(split),
        features._nnz(),
        accuracy,
    )
    return {"loss": loss.item(), "train_accuracy": accuracy.item()}


def member_logits_from(features: Tensor, member: NgramMember) -> Tensor:
    scores = torch.sparse.mm(features, member.table.weight[: member.buckets])  # [N, C-1]
    return with_reference_label(scores) + member.bias
