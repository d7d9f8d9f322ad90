"""Fit the hashed n-gram branch as Naive-Bayes-weighted logistic regression (Wang & Manning 2012).

Each text is the set of its hashed id n-grams. Per label c, the log-count ratio r_c[h] measures
how much more often bucket h occurs in texts of label c than in the others; the branch's weight is
r_c[h] * w_c[h] with w fitted by full-batch L-BFGS under an L2 penalty. This convex fit takes
seconds, does not overfit like an embedding bag trained by SGD, and gives a strong linear model
whose mistakes differ from the recurrent branch's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from model.text import pad_batch
from training.models import HashedNgramBranch, padding_mask, with_reference_label

log = logging.getLogger(__name__)


def presence_matrix(
    branch: HashedNgramBranch,
    rows: Sequence[Sequence[int]],
    token_chars: Tensor | None = None,
    chunk: int = 512,
) -> Tensor:
    """Sparse binary matrix [texts, buckets]: 1 where a text holds an n-gram of that bucket."""
    row_index, col_index = [], []
    for start in range(0, len(rows), chunk):
        ids = torch.from_numpy(pad_batch(rows[start : start + chunk]))
        ordered, keep = branch.unique_hashes(ids, padding_mask(ids), token_chars)
        keep &= ordered < branch.buckets  # drop the padding sentinel
        rows_in_chunk, positions = keep.nonzero(as_tuple=True)
        row_index.append(rows_in_chunk + start)
        col_index.append(ordered[rows_in_chunk, positions])
    indices = torch.stack([torch.cat(row_index), torch.cat(col_index)])
    values = torch.ones(indices.size(1))
    shape = (len(rows), branch.buckets)
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=False).coalesce()


def log_count_ratios(
    features: Tensor, labels: Tensor, num_labels: int, alpha: float = 1.0
) -> Tensor:
    """r [buckets, labels]: smoothed log ratio of a bucket's frequency in label c vs the rest."""
    per_label = torch.stack(
        [
            torch.sparse.sum(_rows(features, labels == c), dim=0).to_dense()
            for c in range(num_labels)
        ]
    )  # [C, buckets]
    total = per_label.sum(dim=0, keepdim=True)
    inside = per_label + alpha
    outside = total - per_label + alpha
    ratio = (inside / inside.sum(dim=1, keepdim=True)) / (
        outside / outside.sum(dim=1, keepdim=True)
    )
    return ratio.log().T.contiguous()


def _rows(features: Tensor, select: Tensor) -> Tensor:
    chosen = select.nonzero(as_tuple=True)[0]
    return torch.index_select(features, 0, chosen)


def fit_ngram_branch(
    branch: HashedNgramBranch,
    rows: Sequence[Sequence[int]],
    labels: Sequence[int],
    l2: float,
    token_chars: Tensor | None = None,
    max_iter: int = 200,
) -> dict[str, float]:
    """Fit the branch's table and bias in place; returns the final loss and train accuracy.

    `token_chars` (the model's token -> code points table) is needed for character n-grams.
    """
    features = presence_matrix(branch, rows, token_chars)
    targets = torch.tensor(labels)
    num_labels = branch.bias.numel()
    ratios = log_count_ratios(features, targets, num_labels)[:, 1:]  # [buckets, C-1]
    weights = torch.zeros_like(ratios, requires_grad=True)
    bias = torch.zeros(num_labels, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights, bias], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = with_reference_label(torch.sparse.mm(features, ratios * weights)) + bias
        loss = torch.nn.functional.cross_entropy(logits, targets) + l2 * weights.pow(2).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    with torch.no_grad():
        branch.table.weight[: branch.buckets] = ratios * weights
        branch.table.weight[branch.buckets] = 0.0
        branch.bias.copy_(bias)
        accuracy = (branch_logits_from(features, branch).argmax(1) == targets).float().mean()
    log.info(
        "n-gram branch: %d texts, %d n-gram occurrences, train accuracy %.4f",
        len(rows),
        features._nnz(),
        accuracy,
    )
    return {"loss": loss.item(), "train_accuracy": accuracy.item()}


def branch_logits_from(features: Tensor, branch: HashedNgramBranch) -> Tensor:
    scores = torch.sparse.mm(features, branch.table.weight[: branch.buckets])  # [N, C-1]
    return with_reference_label(scores) + branch.bias
