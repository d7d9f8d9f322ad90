"""The mix: each member's logits on validation, and the weights that combine them, fitted there.

Validation rows are weighed so that every file counts alike (a 2,000-tweet file as much as a
2,500-review one), and, with `mix_balance_labels`, every label alike within a file: the service
does not know the label priors of what it will be sent. The fit is a small logistic regression
(two numbers per member and a bias per label), so it also calibrates the mixed probabilities,
for label-balanced files. `fit_temperature` and `fold_temperature` recalibrate them afterwards
for the label shares texts arrive with, without moving any label's rank.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from training.batching import make_batches, sorted_batches
from training.losses import allowed_mask, masked_cross_entropy
from training.models import SentimentClassifier, mix_logits
from training.prepare import EncodedSplit


@torch.no_grad()
def member_logits(
    model: SentimentClassifier, split: EncodedSplit, batch_size: int, device: torch.device
) -> list[Tensor]:
    """Each member's logits [N, C] for every row of `split`, in the split's row order."""
    model.eval()
    batches = sorted_batches(split.lengths(), batch_size)
    outputs: list[Tensor] | None = None
    for batch in make_batches(split, batches):
        logits = model.member_logits(batch.input_ids.to(device))
        if outputs is None:
            outputs = [torch.empty(len(split.rows), m.size(1)) for m in logits]
        for out, member in zip(outputs, logits, strict=True):
            out[batch.rows] = member.float().cpu()
    return outputs or []


def mixed(model: SentimentClassifier, members: list[Tensor], lengths: Tensor) -> Tensor:
    if len(members) == 1:
        return members[0]
    return mix_logits(model.mix, model.mix_bias, members, lengths)


def balanced_weights(splits: Sequence[EncodedSplit], balance_labels: bool) -> Tensor:
    """Row weights [sum of rows] giving each split (and each label in it) an equal share."""
    weights = []
    for split in splits:
        labels = torch.tensor(split.labels)
        row = torch.full((len(split),), 1.0 / max(1, len(split)))
        if balance_labels:
            counts = torch.bincount(labels).float()
            present = int((counts > 0).sum())
            row = 1.0 / (counts[labels] * present)
        weights.append(row)
    joined = torch.cat(weights)
    return joined * len(joined) / joined.sum()


def fit_mix(
    model: SentimentClassifier,
    members: list[Tensor],
    split: EncodedSplit,
    weights: Tensor,
    active: list[int] | None = None,
) -> None:
    """Fit the weights (constant and log-length slope) of the `active` members and a bias on
    validation logits; other members (not trained yet) get weight 0."""
    if len(members) < 2:
        return
    active = list(range(len(members))) if active is None else active
    chosen = [members[i] for i in active]
    scale = torch.tensor([[1.0, 0.0]] * len(chosen), requires_grad=True)
    bias = torch.zeros(chosen[0].size(1), requires_grad=True)
    lengths = torch.tensor(split.lengths())
    targets = torch.tensor(split.labels)
    mask = allowed_mask(split.allowed, chosen[0].size(1))
    optimizer = torch.optim.LBFGS([scale, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = masked_cross_entropy(
            mix_logits(scale, bias, chosen, lengths), targets, mask, weights
        )
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.mix.zero_()
        model.mix[active] = scale
        model.mix_bias.copy_(bias)


def fit_temperature(logits: Tensor, split: EncodedSplit, weights: Tensor) -> float:
    """The temperature T minimising the weighted cross-entropy of softmax(logits / T) on
    validation (each row scored over the labels it could have had)."""
    targets = torch.tensor(split.labels)
    mask = allowed_mask(split.allowed, logits.size(1))
    fixed = logits.detach()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = masked_cross_entropy(fixed / log_t.exp(), targets, mask, weights)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


@torch.no_grad()
def fold_temperature(model: SentimentClassifier, temperature: float) -> None:
    """Divide the mixed logits by `temperature` inside the mix: its weights and bias are
    linear in them, so the graph is unchanged and every label keeps its rank."""
    model.mix.div_(temperature)
    model.mix_bias.div_(temperature)
