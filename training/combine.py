"""Predict with each branch, and fit the weights that mix the branches' logits on validation."""

from __future__ import annotations

import torch
from torch import Tensor

from training.batching import make_batches, sorted_batches
from training.models import SentimentClassifier, mix_logits
from training.prepare import EncodedSplit


@torch.no_grad()
def branch_logits(
    model: SentimentClassifier, split: EncodedSplit, batch_size: int, device: torch.device
) -> list[Tensor]:
    """Each branch's logits [N, C] for every row of `split`, in the split's row order."""
    model.eval()
    batches = sorted_batches(split.lengths(), batch_size)
    outputs: list[Tensor] | None = None
    for batch in make_batches(split.rows, split.labels, batches):
        parts = model.branch_logits(batch.input_ids.to(device))
        if outputs is None:
            outputs = [torch.empty(len(split.rows), p.size(1)) for p in parts]
        for out, part in zip(outputs, parts, strict=True):
            out[batch.rows] = part.float().cpu()
    return outputs or []


def mixed(model: SentimentClassifier, parts: list[Tensor], lengths: Tensor) -> Tensor:
    if len(parts) == 1:
        return parts[0]
    return mix_logits(model.mix, model.mix_bias, parts, lengths)


def fit_mix(
    model: SentimentClassifier,
    parts: list[Tensor],
    lengths: Tensor,
    labels: list[int],
    active: list[int] | None = None,
) -> None:
    """Fit the weights (constant and log-length slope) of the `active` parts and a bias on
    validation logits; other parts (members not trained yet) get weight 0."""
    if len(parts) < 2:
        return
    active = list(range(len(parts))) if active is None else active
    parts = [parts[i] for i in active]
    weights = torch.tensor([[1.0, 0.0]] * len(parts), requires_grad=True)
    if len(parts) == 1:  # one trained part: it alone decides
        with torch.no_grad():
            model.mix.zero_()
            model.mix[active] = weights
            model.mix_bias.zero_()
        return
    bias = torch.zeros(parts[0].size(1), requires_grad=True)
    targets = torch.tensor(labels)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = mix_logits(weights, bias, parts, lengths)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.mix.zero_()
        model.mix[active] = weights
        model.mix_bias.copy_(bias)


def accuracy(logits: Tensor, labels: list[int]) -> float:
    return float((logits.argmax(1) == torch.tensor(labels)).float().mean())
