"""The peers a shipped bundle is measured against, each as `predict_proba(texts) -> [N, labels]`
over the bundle's own labels, so one evaluator scores them all alike.

- TF-IDF + LR fitted on the same training mix as the bundle (the files, weights and validation
  of its training config): word 1-2-grams, multinomial logistic regression trained with the
  bundle's own loss (a binary file's rows never see neutral) and, like the bundle's mix, a bias
  per label fitted on the same validation files, each file and label weighing alike.
- VADER (Hutto & Gilbert 2014), a rule lexicon: compound >= 0.05 positive, <= -0.05 negative,
  neutral between; on binary sets compound >= 0 is positive, as its authors suggest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from training.config import TrainConfig
from training.data import LabelledTexts
from training.losses import allowed_mask, masked_cross_entropy
from training.prepare import read_training_files

NEUTRAL_BAND = 0.05


def _to_torch_sparse(matrix) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.tensor(np.vstack([coo.row, coo.col]), dtype=torch.int64)
    return torch.sparse_coo_tensor(indices, torch.tensor(coo.data, dtype=torch.float32),
                                   coo.shape).coalesce()  # fmt: skip


def _lbfgs(parameters: list[torch.Tensor], loss_fn, max_iter: int) -> float:
    optimizer = torch.optim.LBFGS(parameters, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    return float(optimizer.step(closure))


class MixTfidf:
    """TF-IDF + logistic regression on a training config's mix (see the module docstring)."""

    def __init__(self, config: TrainConfig, c: float = 4.0, max_iter: int = 300) -> None:
        self.config, self.c, self.max_iter = config, c, max_iter
        self.labels = list(config.labels)

    def fit(self) -> MixTfidf:
        from sklearn.feature_extraction.text import TfidfVectorizer

        started = time.perf_counter()
        splits = read_training_files(self.config)
        train = LabelledTexts.concat([s.train for s in splits])
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9,
                                          sublinear_tf=True)  # fmt: skip
        features = _to_torch_sparse(self.vectorizer.fit_transform(train.texts))
        self._fit_weights(features, train)
        self._fit_bias([s.validation for s in splits if len(s.validation)])
        self.seconds = time.perf_counter() - started
        print(f"TF-IDF + LR on the {self.config.name} mix: {len(train):,} texts, "
              f"{features.shape[1]:,} features, {self.seconds:.0f} s")  # fmt: skip
        return self

    def _fit_weights(self, features: torch.Tensor, train: LabelledTexts) -> None:
        classes = len(self.labels)
        self.weight = torch.zeros(features.shape[1], classes, requires_grad=True)
        self.bias = torch.zeros(classes, requires_grad=True)
        targets = torch.tensor(train.labels)
        mask = allowed_mask(train.allowed, classes)
        rows = torch.tensor(train.weights)
        penalty = 1.0 / (2 * self.c * float(rows.sum()))  # sklearn's C, per summed row loss

        def loss() -> torch.Tensor:
            logits = torch.sparse.mm(features, self.weight) + self.bias
            data = masked_cross_entropy(logits, targets, mask, rows)
            return data + penalty * self.weight.pow(2).sum()

        _lbfgs([self.weight, self.bias], loss, self.max_iter)

    def _fit_bias(self, validation: Sequence[LabelledTexts]) -> None:
        """A bias per label and a temperature on validation, every file and label alike."""
        joined = LabelledTexts.concat(list(validation))
        with torch.no_grad():
            logits = self._logits(joined.texts)
        targets = torch.tensor(joined.labels)
        weights = torch.cat([_balanced(v.labels) for v in validation])
        mask = allowed_mask(joined.allowed, len(self.labels))
        self.shift = torch.zeros(len(self.labels), requires_grad=True)
        self.scale = torch.ones(1, requires_grad=True)

        def loss() -> torch.Tensor:
            return masked_cross_entropy(logits * self.scale + self.shift, targets, mask, weights)

        _lbfgs([self.shift, self.scale], loss, 100)

    def _logits(self, texts: Sequence[str]) -> torch.Tensor:
        features = _to_torch_sparse(self.vectorizer.transform(list(texts)))
        return torch.sparse.mm(features, self.weight) + self.bias

    def predict_proba(self, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
        with torch.no_grad():
            logits = self._logits(texts) * self.scale + self.shift
            return torch.softmax(logits, dim=1).numpy()


def _balanced(labels: list[int]) -> torch.Tensor:
    counts = torch.bincount(torch.tensor(labels)).float()
    present = int((counts > 0).sum())
    return 1.0 / (counts[torch.tensor(labels)] * present) * len(labels)


class Vader:
    """VADER's compound score as probabilities over negative / neutral / positive (or negative
    / positive for a binary model) whose argmax is VADER's own decision rule."""

    def __init__(self, labels: Sequence[str]) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.labels = list(labels)

    def compound(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.analyzer.polarity_scores(t)["compound"] for t in texts])

    def predict_proba(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray:
        c = self.compound(texts)
        # P(pos) > P(neg) exactly when compound >= 0, so renormalised over those two the
        # decision is VADER's binary rule; neutral wins inside the band
        positive = (1.0 + c + 1e-6) / 2
        out = np.zeros((len(texts), len(self.labels)))
        out[:, self.labels.index("positive")] = positive
        out[:, self.labels.index("negative")] = 1.0 - positive
        if "neutral" in self.labels:
            band = np.abs(c) < NEUTRAL_BAND
            out[band] *= 0.1
            out[band, self.labels.index("neutral")] = 0.9
        return out
