"""Predict with each branch, and fit the weights that mix the branches' logits on validation."""

from __future__ import annotations

import torch
from torch import Tensor

from training.batching import make_batches, sorted_batches
from training.models import SentimentClassifier
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


def mixed(model: SentimentClassifier, parts: list[Tensor]) -> Tensor:
    if len(parts) == 1:
        return parts[0]
    return model.mix[0] * parts[0] + model.mix[1] * parts[1] + model.mix_bias


def fit_mix(model: SentimentClassifier, parts: list[Tensor], labels: list[int]) -> None:
    """Fit one weight per branch and a bias by logistic regression on validation logits."""
    if len(parts) < 2:
        return
    weights = torch.ones(2, requires_grad=True)
    bias = torch.zeros(parts[0].size(1), requires_grad=True)
    targets = torch.tensor(labels)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = weights[0] * parts[0] + weights[1] * parts[1] + bias
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.mix.copy_(weights)
        model.mix_bias.copy_(bias)


def accuracy(logits: Tensor, labels: list[int]) -> float:
    return float((logits.argmax(1) == torch.tensor(labels)).float().mean())
