"""A stand-in scorer with three labels, so that file handling is tested without a model."""

from __future__ import annotations

import pytest

from app.bulk import job
from app.bulk.scorer import ModelInfo, Result

LABELS = ["negative", "neutral", "positive"]


class FakeScorer:
    """Deterministic answers from the text's length; can fail after some calls."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.closed = False

    def score(self, texts: list[str]) -> list[Result]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        return [fake_result(t) for t in texts]

    def close(self) -> None:
        self.closed = True


def fake_result(text: str) -> Result:
    raw = [1.0 + len(text) % 3, 1.0 + len(text) % 5, 1.0 + len(text) % 7]
    probs = [v / sum(raw) for v in raw]
    best = max(range(3), key=probs.__getitem__)
    return Result(LABELS[best], dict(zip(LABELS, probs, strict=True)))


@pytest.fixture
def fake_scorer(monkeypatch: pytest.MonkeyPatch) -> FakeScorer:
    scorer = FakeScorer()
    monkeypatch.setattr(job, "load_scorer", lambda config: scorer)
    monkeypatch.setattr(
        job, "describe_model", lambda config: ModelInfo("fake", "1.0.0", "fp32", LABELS, False)
    )
    return scorer
