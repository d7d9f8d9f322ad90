"""A long text scored from its head and tail windows gets exactly the ids of the whole text."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from model.bundle import Truncation
from model.text import TextEncoder
from model.windows import budget, cut
from tests.factories import REPO

SHIPPED = REPO / "model" / "bundles"
# separators that a cut could split: whitespace runs, elongations, emoji, entities, URLs, mentions
SEPARATORS = [" ", "  ", "\n", "   ", " \t ", "!!! ", " 😀😀😀 ", "sooooo ", " &amp; ", " @x "]
WORDS = ["the", "food", "was", "not", "bad", "at", "all", "but", "I", "would", "never", "great"]


def encoder(name: str) -> TextEncoder:
    folder = SHIPPED / name
    return TextEncoder.from_file(folder / "tokenizer.json", Truncation(512, 128))


def made_up_texts(count: int, seed: int) -> list[str]:
    """Long texts of words and tricky separators, and a few short ones."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = [rng.choice(WORDS) + rng.choice(SEPARATORS) for _ in range(rng.randint(5, 1500))]
        texts.append("".join(pieces))
    return texts


def assert_same_ids(encoder: TextEncoder, texts: list[str]) -> int:
    """Checks every direction; returns how many texts took the windows."""
    windowed = 0
    for direction in (None, "left", "right"):
        got = encoder.scoring_encodings(texts, [direction] * len(texts))
        want = encoder.encode_batch(texts, direction)
        for text, a, b in zip(texts, got, want, strict=True):
            assert (a.ids, a.truncated, a.head) == (b.ids, b.truncated, b.head), text[:80]
        windowed += sum(a.encoding is None for a in got)
    return windowed


@pytest.mark.unit
def test_cut_is_at_whitespace_and_only_for_texts_long_enough() -> None:
    text = "word " * 2000
    windows = cut(text, 128, 384)
    assert windows is not None
    assert text[windows.head_end].isspace() and text[windows.tail_start].isspace()
    assert windows.head_end >= budget(128)
    assert len(text) - windows.tail_start >= budget(384)
    assert cut("word " * 400, 128, 384) is None  # shorter than 1.25x the two windows
    assert cut("x" * 10_000, 128, 384) is None  # no whitespace near a cut
    left = cut(text, 0, 512)
    assert left is not None and left.head_end == 0


@pytest.mark.unit
@pytest.mark.parametrize("name", ["sentiment-en", "sentiment-ko"])
def test_made_up_long_texts_get_the_whole_texts_ids(name: str) -> None:
    texts = made_up_texts(300, seed=len(name))
    assert assert_same_ids(encoder(name), texts) > 100


@pytest.mark.unit
def test_a_text_its_windows_cannot_fill_is_tokenized_whole() -> None:
    # a link is one token ("http") however long it is: the windows hold too few tokens
    text = " ".join(["see http://example.com/" + "a" * 900] * 8) + " it was great"
    (encoded,) = encoder("sentiment-en").scoring_encodings([text], [None])
    assert encoded.encoding is not None
    assert encoded.ids == encoder("sentiment-en").encode(text).ids


def test_the_longest_real_reviews_get_the_whole_texts_ids(data_dir: Path) -> None:
    with gzip.open(data_dir / "imdb" / "test.tsv.gz", "rt", encoding="utf-8") as handle:
        next(handle)
        texts = [next(handle).rstrip("\n").split("\t", 1)[1] for _ in range(5000)]
    longest = sorted(texts, key=len)[-300:]
    assert assert_same_ids(encoder("sentiment-en"), longest) > 300
