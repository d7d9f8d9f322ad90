"""The classical baselines: TF-IDF + logistic regression (scikit-learn) trained on the same
training file as the shipped model, and VADER (a lexicon, no training). Fitted pipelines are
cached under bench/results/tmp (git-ignored), keyed by model and training-row limit.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import SCRATCH, read_train_set

# word 1-2-grams for English; character 1-3-grams for Korean (no word segmentation needed):
# the settings that measured 90.6 (IMDB) and 87.2 (NSMC) on the official test splits
TFIDF_OPTIONS = {
    "sentiment-en": {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.9},
    "sentiment-ko": {"analyzer": "char_wb", "ngram_range": (1, 3), "min_df": 2},
}


def tfidf_pipeline(model: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(sublinear_tf=True, **TFIDF_OPTIONS[model])
    return make_pipeline(vectorizer, LogisticRegression(C=4.0, max_iter=1000, solver="liblinear"))


def tfidf_path(model: str, limit: int | None) -> Path:
    return SCRATCH / "baselines" / f"tfidf-{model}-{limit or 'all'}.joblib"


def fitted_tfidf(model: str, data_dir: Path, limit: int | None = None) -> Any:
    """The pipeline fitted on the model's training file (cached); prints how long it took."""
    import joblib

    path = tfidf_path(model, limit)
    if path.is_file():
        return joblib.load(path)
    texts, labels = read_train_set(data_dir, model, limit)
    started = time.perf_counter()
    pipeline = tfidf_pipeline(model).fit(texts, labels)
    print(
        f"TF-IDF + LR for {model}: fitted on {len(texts)} texts in "
        f"{time.perf_counter() - started:.1f} s"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, path)
    return pipeline


class Vader:
    """VADER's compound score >= 0 -> positive (label 1), else negative (label 0)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def predict(self, texts: list[str]) -> list[int]:
        return [int(self.analyzer.polarity_scores(t)["compound"] >= 0) for t in texts]
