"""The one loss every part of training minimises: cross-entropy over the labels a row could have.

A row from a binary file (negative or positive) says nothing about neutral, so its loss is the
cross-entropy of the probabilities renormalised over negative and positive: the neutral logit is
masked out. Rows of three-label files see all three. Each row also carries a weight (its file's
`weight`, or the validation balance of `training.mix`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def allowed_mask(allowed: Sequence[int] | Tensor, num_labels: int) -> Tensor:
    """Bit masks [N] (bit c set: label c possible) -> bool [N, C]."""
    bits = torch.as_tensor(allowed, dtype=torch.int64).unsqueeze(1)  # [N, 1]
    return (bits >> torch.arange(num_labels).unsqueeze(0)) & 1 == 1


def masked_log_softmax(logits: Tensor, mask: Tensor) -> Tensor:
    """log P(label | label is one the row allows) [N, C]; impossible labels get -inf."""
    return torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=1)


def masked_cross_entropy(
    logits: Tensor, labels: Tensor, mask: Tensor, weights: Tensor | None = None
) -> Tensor:
    """Weighted mean over rows of -log P(label | allowed labels); logits [N, C], labels [N]."""
    picked = masked_log_softmax(logits, mask).gather(1, labels.unsqueeze(1)).squeeze(1)  # [N]
    if weights is None:
        return -picked.mean()
    return -(picked * weights).sum() / weights.sum().clamp(min=1e-12)
