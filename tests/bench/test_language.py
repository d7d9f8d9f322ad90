"""bench/language.py's accuracy: texts routed to their set's language, over every text and over
those written in it (NSMC reviews without Hangul are not Korean text)."""

from __future__ import annotations

import pytest

from app.core.language import LanguageIdentifier
from bench.language import accuracy, cost_us


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    found = LanguageIdentifier(frozenset({"en"}))
    found.load()
    return found


def test_accuracy_counts_every_text_and_those_written_in_the_language(
    identifier: LanguageIdentifier,
) -> None:
    sets = {
        "ko": (["정말 재미있는 영화", "최고의 영화 ㅋㅋ", "good", "10"], "ko"),
        "en": (["What a wonderful film", "Dull and far too long"], "en"),
    }
    report = accuracy(identifier, sets)
    assert report["texts"] == 6 and report["right"] == 4
    assert report["sets"]["ko"]["written_in_language"] == 2
    assert report["texts_written_in_language"] == 4 and report["accuracy_written"] == 1.0


def test_cost_is_microseconds_per_text(identifier: LanguageIdentifier) -> None:
    assert 0 < cost_us(identifier, ["What a wonderful film"] * 20, rounds=1) < 50_000
