"""The confidence cascade: the n-gram member answers the texts it is sure of, the rest run the
whole model.

The fast path is the n-gram member with a calibration of its own (a weight a + b * log(length)
on its logits and a bias per label, fitted on validation like the mix), exported as a graph of
its own. A text takes the fast path when its highest fast-path probability reaches the
threshold; the threshold is the lowest one at which, on every validation file, the cascade
answers differently from the whole model on at most `max_drop` of the texts (and stays so for
every higher threshold, so one lucky value is not picked). Each text's path depends on that
text alone, so an answer never depends on its batch neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from training.mix import balanced_weights
from training.models import SentimentClassifier, mix_logits
from training.prepare import EncodedSplit
from training.quality import labels_in, restrict

FAST_FILE = "fast.onnx"
MAX_DROP = 0.002  # texts on which the cascade may differ from the whole model, per file


class FastPath(nn.Module):
    """input_ids [B, T] -> calibrated n-gram logits [B, C]: the cascade's cheap graph."""

    def __init__(self, model: SentimentClassifier, scale: Tensor, bias: Tensor) -> None:
        super().__init__()
        if model.ngrams is None:
            raise ValueError("a cascade needs the n-gram member (ngram_buckets > 0)")
        self.spec = model.spec
        self.ngrams = model.ngrams
        self.register_buffer("token_chars", model.token_chars)
        self.scale = nn.Parameter(scale.detach().clone().view(1, 2), requires_grad=False)
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, input_ids: Tensor) -> Tensor:
        mask = input_ids != 0
        logits = self.ngrams(input_ids, mask, self.token_chars)
        return mix_logits(self.scale, self.bias, [logits], mask.sum(dim=1))


def fit_fast_calibration(
    ngram_logits: Tensor, split: EncodedSplit, weights: Tensor
) -> tuple[Tensor, Tensor]:
    """(scale [a, b], bias [C]) for the n-gram member alone, on balanced validation."""
    from training.losses import allowed_mask, masked_cross_entropy

    scale = torch.tensor([[1.0, 0.0]], requires_grad=True)
    bias = torch.zeros(ngram_logits.size(1), requires_grad=True)
    lengths = torch.tensor(split.lengths())
    targets = torch.tensor(split.labels)
    mask = allowed_mask(split.allowed, ngram_logits.size(1))
    optimizer = torch.optim.LBFGS([scale, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = mix_logits(scale, bias, [ngram_logits], lengths)
        loss = masked_cross_entropy(logits, targets, mask, weights)
        loss.backward()
        return loss

    optimizer.step(closure)
    return scale.detach()[0], bias.detach()


@dataclass
class FileOutcome:
    """One validation file's probabilities on both paths."""

    name: str
    fast: np.ndarray  # [N, C]
    full: np.ndarray  # [N, C]
    labels: np.ndarray
    keep: list[int]  # label indices the file is scored on

    def accuracy(self, probabilities: np.ndarray) -> float:
        probs, targets = restrict(probabilities, self.labels, self.keep)
        return float((probs.argmax(1) == targets).mean())

    def disagreement(self, probabilities: np.ndarray) -> float:
        """Fraction of texts whose label differs from the whole model's."""
        probs, _ = restrict(probabilities, self.labels, self.keep)
        full, _ = restrict(self.full, self.labels, self.keep)
        return float((probs.argmax(1) != full.argmax(1)).mean())

    def served(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities the cascade answers with, which rows took the fast path)."""
        fast_rows = self.fast.max(axis=1) >= threshold
        return np.where(fast_rows[:, None], self.fast, self.full), fast_rows


def choose_threshold(files: list[FileOutcome], max_drop: float = MAX_DROP) -> float:
    """The lowest threshold at which, on every file, the cascade's label differs from the whole
    model's on at most `max_drop` of the texts, at it and at every higher candidate; 1.01
    (nothing takes the fast path) when none does.

    Disagreement bounds the accuracy lost on any labelled set drawn like the file, whatever its
    labels; an accuracy difference alone lets the fast path's wins on some texts hide its losses
    on others, and those stop cancelling out on text unlike the validation files.
    """
    candidates = np.unique(np.concatenate([f.fast.max(axis=1) for f in files]))
    chosen = 1.01
    for threshold in candidates[::-1]:  # from the strictest down
        if any(f.disagreement(f.served(threshold)[0]) > max_drop + 1e-12 for f in files):
            break
        chosen = float(threshold)
    return chosen


def outcomes(
    fast: Tensor, full: Tensor, files: list[EncodedSplit], num_labels: int
) -> list[FileOutcome]:
    """Split validation-wide logits [N, C] of both paths into one outcome per file."""
    fast_p, full_p = torch.softmax(fast, 1).numpy(), torch.softmax(full, 1).numpy()
    result, start = [], 0
    for split in files:
        stop = start + len(split)
        keep = labels_in(split.scored, num_labels)
        result.append(
            FileOutcome(
                split.name, fast_p[start:stop], full_p[start:stop], np.array(split.labels), keep
            )
        )
        start = stop
    return result


def report(files: list[FileOutcome], threshold: float) -> dict[str, dict[str, float]]:
    """Per file: fraction that takes the fast path, and accuracy of the full model vs cascade."""
    out = {}
    for f in files:
        served, fast_rows = f.served(threshold)
        out[f.name] = {
            "fast_fraction": float(fast_rows.mean()),
            "full_accuracy": f.accuracy(f.full),
            "cascade_accuracy": f.accuracy(served),
            "disagreement": f.disagreement(served),
        }
    return out


def validation_weights(files: list[EncodedSplit]) -> Tensor:
    return balanced_weights(files, balance_labels=True)
