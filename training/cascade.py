"""The confidence cascade: the n-gram member answers the texts it is sure of, the rest run the
whole model.

The fast path is the n-gram member with a calibration of its own (a weight a + b * log(length)
on its logits and a bias per label, fitted on validation like the mix), exported as a graph of
its own. A text takes the fast path when its highest fast-path probability reaches the
threshold; the threshold is the lowest one at which, on every validation file, the cascade
answers differently from the whole model on at most `max_drop` of the texts (and stays so for
every higher threshold, so one lucky value is not picked). Each text's path depends on that
text alone, so an answer never depends on its batch neighbours.

Short texts rarely take the fast path (the n-gram member is seldom sure of a tweet), so trying it
on them is pure cost. `min_tokens` is the length from which the fast graph is tried at all: the
lower end of the shortest run of length buckets, up to the longest, in which it answered at least
`MIN_FAST_FRACTION` of the validation texts. Shorter texts go straight to the whole model, which
only moves the served answer closer to the whole model's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model.cascade import NO_CASCADE, CascadeRule
from training.models import SentimentClassifier, mix_logits
from training.prepare import EncodedSplit
from training.quality import labels_in, restrict

log = logging.getLogger(__name__)
FAST_FILE = "fast.onnx"
MAX_DROP = 0.002  # texts on which the cascade may differ from the whole model, per file
# Trying the fast graph pays on a length bucket when it answers more of it than it costs: on the
# shipped English bundle (1 thread) it costs 2-17% of the whole model's time at the same length,
# plus the path's own bookkeeping, so a bucket must be answered there at least 10% of the time.
MIN_FAST_FRACTION = 0.1
MIN_BUCKET_TEXTS = 30  # smaller buckets say too little to stop the run of buckets that pay


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
    lengths: np.ndarray  # tokens per text, as served (after truncation)

    def accuracy(self, probabilities: np.ndarray) -> float:
        probs, targets = restrict(probabilities, self.labels, self.keep)
        return float((probs.argmax(1) == targets).mean())

    def disagreement(self, probabilities: np.ndarray) -> float:
        """Fraction of texts whose label differs from the whole model's."""
        probs, _ = restrict(probabilities, self.labels, self.keep)
        full, _ = restrict(self.full, self.labels, self.keep)
        return float((probs.argmax(1) != full.argmax(1)).mean())

    def served(self, threshold: float, min_tokens: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities the cascade answers with, which rows took the fast path)."""
        fast_rows = CascadeRule(threshold, min_tokens).fast_rows(self.fast, self.lengths)
        return np.where(fast_rows[:, None], self.fast, self.full), fast_rows


def choose_threshold(files: list[FileOutcome], max_drop: float = MAX_DROP) -> float:
    """The lowest threshold at which, on every file, the cascade's label differs from the whole
    model's on at most `max_drop` of the texts, at it and at every higher candidate;
    NO_CASCADE (nothing takes the fast path) when none does.

    Disagreement bounds the accuracy lost on any labelled set drawn like the file, whatever its
    labels; an accuracy difference alone lets the fast path's wins on some texts hide its losses
    on others, and those stop cancelling out on text unlike the validation files.
    """
    candidates = np.unique(np.concatenate([f.fast.max(axis=1) for f in files]))
    chosen = NO_CASCADE
    for threshold in candidates[::-1]:  # from the strictest down
        if any(f.disagreement(f.served(threshold)[0]) > max_drop + 1e-12 for f in files):
            break
        chosen = float(threshold)
    return chosen


def length_bucket(length: int) -> int:
    """The power of two a length rounds up to: buckets (0, 1], (1, 2], (2, 4], ... (256, 512]."""
    return 1 << max(0, length - 1).bit_length()


def fast_by_length(files: list[FileOutcome], threshold: float) -> dict[int, tuple[int, int]]:
    """Bucket upper end -> (validation texts, of them answered by the fast graph), all files."""
    counts: dict[int, list[int]] = {}
    for f in files:
        _, fast_rows = f.served(threshold)
        for length, fast in zip(f.lengths.tolist(), fast_rows.tolist(), strict=True):
            bucket = counts.setdefault(length_bucket(length), [0, 0])
            bucket[0] += 1
            bucket[1] += int(fast)
    return {upper: (n, k) for upper, (n, k) in sorted(counts.items())}


def choose_min_tokens(buckets: dict[int, tuple[int, int]]) -> int:
    """Shortest length from which every bucket up to the longest is answered by the fast graph
    at least MIN_FAST_FRACTION of the time (buckets under MIN_BUCKET_TEXTS texts do not stop
    the run); 0 when every bucket is; past the longest bucket when the longest is not."""
    uppers = sorted(buckets, reverse=True)
    if not uppers:
        return 0
    min_tokens = uppers[0] + 1  # the fast graph pays nowhere
    for upper in uppers:
        texts, fast = buckets[upper]
        if texts >= MIN_BUCKET_TEXTS and fast < MIN_FAST_FRACTION * texts:
            break
        min_tokens = upper // 2 + 1 if upper > 1 else 0
    return min_tokens


def outcomes(
    fast: np.ndarray, full: np.ndarray, files: list[EncodedSplit], num_labels: int
) -> list[FileOutcome]:
    """Split validation-wide probabilities [N, C] of both paths into one outcome per file."""
    result, start = [], 0
    for split in files:
        stop = start + len(split)
        keep = labels_in(split.scored, num_labels)
        labels, lengths = np.array(split.labels), np.array(split.lengths())
        result.append(
            FileOutcome(split.name, fast[start:stop], full[start:stop], labels, keep, lengths)
        )
        start = stop
    return result


def report(
    files: list[FileOutcome], threshold: float, min_tokens: int = 0
) -> dict[str, dict[str, float]]:
    """Per file: fraction that takes the fast path, and accuracy of the full model vs cascade."""
    out = {}
    for f in files:
        served, fast_rows = f.served(threshold, min_tokens)
        out[f.name] = {
            "fast_fraction": float(fast_rows.mean()),
            "full_accuracy": f.accuracy(f.full),
            "cascade_accuracy": f.accuracy(served),
            "disagreement": f.disagreement(served),
        }
    return out


def length_rule(files: list[FileOutcome], threshold: float) -> dict[str, Any]:
    """The manifest's cascade fields chosen from validation once the threshold is: the length
    from which the fast graph is tried, the counts per length bucket it was chosen from, and the
    per-file report of the rule as served."""
    buckets = fast_by_length(files, threshold)
    min_tokens = choose_min_tokens(buckets)
    validation = report(files, threshold, min_tokens)
    log.info("cascade: threshold %.4f, from %d tokens; %s", threshold, min_tokens, validation)
    return {
        "min_tokens": min_tokens,
        "fast_by_length": {f"<={upper}": [n, k] for upper, (n, k) in buckets.items()},
        "validation": validation,
    }
