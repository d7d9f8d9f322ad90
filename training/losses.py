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


def distillation_loss(
    logits: Tensor, teacher_logits: Tensor, weights: Tensor, temperature: float
) -> Tensor:
    """Weighted mean over rows of T^2 * KL(teacher || student) at temperature T (Hinton et al.
    2015; T^2 keeps the gradient's size independent of T). logits, teacher_logits [N, C]."""
    target = torch.softmax(teacher_logits / temperature, dim=1)
    log_student = torch.log_softmax(logits / temperature, dim=1)
    kl = (target * (torch.log(target.clamp(min=1e-12)) - log_student)).sum(1)  # [N]
    return temperature**2 * (kl * weights).sum() / weights.sum().clamp(min=1e-12)


def student_loss(
    logits: Tensor,
    labels: Tensor,
    mask: Tensor,
    weights: Tensor,
    soft: Tensor | None,
    distill_weight: float,
    temperature: float,
) -> Tensor:
    """(1 - a) * cross-entropy on rows with a label (>= 0) + a * distillation on rows with
    teacher logits (no NaN); without a teacher, the cross-entropy alone."""
    hard = labels >= 0
    zero = logits.sum() * 0.0  # keeps the graph when a term has no rows
    ce = (
        masked_cross_entropy(logits[hard], labels[hard], mask[hard], weights[hard])
        if hard.any()
        else zero
    )
    if soft is None:
        return ce
    taught = ~torch.isnan(soft).any(dim=1)
    if not taught.any():
        return (1.0 - distill_weight) * ce
    kd = distillation_loss(logits[taught], soft[taught], weights[taught], temperature)
    return (1.0 - distill_weight) * ce + distill_weight * kd
