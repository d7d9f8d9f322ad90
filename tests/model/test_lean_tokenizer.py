"""The lean tokenizer answers exactly as the bundle's own, and only takes the texts it may."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from model.bundle import Truncation
from model.lean_tokenizer import lean_tokenizer
from model.text import TextEncoder
from tests.factories import REPO

SHIPPED = REPO / "model" / "bundles" / "sentiment-en" / "tokenizer.json"
# each breaks one condition of the lean path (or tries to fool it)
REFUSED = [
    "Sooo good",  # a run of three letters
    "AaA what",  # the run is there case-insensitively
    "café au lait",  # not ASCII: NFKC and the quote rules may act
    "I ‘love’ it",
    "@aaa thanks",  # "@" is named by the mention rule, whose "@user" ends in a letter
    "visit www.aaa.com",
]
TRICKY_BUT_LEAN = [
    "aa<br />a and aa&amp;a",  # tags and entities become non-letters: no run is made
    "&amp;&amp;&amp; &lt;3",
    "see http://example.com/x?y=1 now",
    "The train leaves at 9 am.",
    "Not bad at all!   Really\tnot bad.",
    "",
    "   ",
]


def _real_texts(data_dir: Path) -> list[str]:
    texts = []
    for name, rows in (("imdb/test.tsv.gz", 400), ("tweeteval/test.tsv.gz", 600)):
        with gzip.open(data_dir / name, "rt", encoding="utf-8") as handle:
            next(handle)
            texts += [next(handle).rstrip("\n").split("\t", 1)[1] for _ in range(rows)]
    return texts


def _same(full: Tokenizer, lean: Tokenizer, text: str) -> None:
    a = full.encode(text, add_special_tokens=False)
    b = lean.encode(text, add_special_tokens=False)
    assert (a.ids, a.tokens, a.offsets) == (b.ids, b.tokens, b.offsets), text


@pytest.mark.unit
def test_the_shipped_tokenizer_gets_a_lean_copy_that_refuses_what_it_cannot_take() -> None:
    full = Tokenizer.from_file(str(SHIPPED))
    lean = lean_tokenizer(full)
    assert lean is not None and lean.absent == "@"
    steps = json.loads(lean.tokenizer.to_str())["normalizer"]["normalizers"]
    assert len(steps) < 20 and not any(s["type"] == "NFKC" for s in steps)
    assert not any(lean.fits(t) for t in REFUSED)
    assert all(lean.fits(t) for t in TRICKY_BUT_LEAN)
    for text in REFUSED + TRICKY_BUT_LEAN:
        if lean.fits(text):
            _same(full, lean.tokenizer, text)


def test_real_texts_get_the_same_ids_tokens_and_offsets(data_dir: Path) -> None:
    full = Tokenizer.from_file(str(SHIPPED))
    lean = lean_tokenizer(full)
    assert lean is not None
    texts = _real_texts(data_dir)
    taken = [t for t in texts if lean.fits(t)]
    assert len(taken) > len(texts) / 2  # most reviews and tweets take the lean path
    for text in taken:
        _same(full, lean.tokenizer, text)


def _tokenizer_with(steps: list[dict]) -> Tokenizer:
    spec = json.loads(SHIPPED.read_text())
    spec["normalizer"] = {"type": "Sequence", "normalizers": steps}
    return Tokenizer.from_str(json.dumps(spec))


ELONGATE_A = {"type": "Replace", "pattern": {"Regex": "a{3,}"}, "content": "aa"}


@pytest.mark.unit
def test_a_step_that_could_make_a_run_keeps_the_elongation_rules() -> None:
    deletion = {"type": "Replace", "pattern": {"String": "-"}, "content": ""}
    full = _tokenizer_with([{"type": "NFKC"}, deletion, ELONGATE_A])
    lean = lean_tokenizer(full)
    assert lean is not None  # NFKC still goes: ASCII text stays ASCII
    kept = json.loads(lean.tokenizer.to_str())["normalizer"]["normalizers"]
    assert kept == [deletion, ELONGATE_A]
    assert lean.fits("a-a-a")
    _same(full, lean.tokenizer, "a-a-a")  # "aaa" -> "aa" in both


@pytest.mark.unit
def test_normalizers_it_cannot_reason_about_get_no_lean_copy() -> None:
    prepend = {"type": "Prepend", "prepend": "▁"}
    assert lean_tokenizer(_tokenizer_with([prepend, ELONGATE_A])) is None
    non_ascii_content = {"type": "Replace", "pattern": {"String": "'"}, "content": "’"}
    assert lean_tokenizer(_tokenizer_with([non_ascii_content, ELONGATE_A])) is None
    assert lean_tokenizer(_tokenizer_with([{"type": "Lowercase"}])) is None  # nothing to drop


@pytest.mark.unit
def test_a_batch_of_mixed_texts_keeps_its_order() -> None:
    encoder = TextEncoder.from_file(SHIPPED, Truncation(max_length=8, head_tokens=3))
    reference = Tokenizer.from_file(str(SHIPPED))
    texts = [REFUSED[0], TRICKY_BUT_LEAN[3], REFUSED[2], TRICKY_BUT_LEAN[4] * 3, REFUSED[4]]
    batch = encoder.encode_batch(texts)
    for text, item in zip(texts, batch, strict=True):
        expected = reference.encode(text, add_special_tokens=False)
        assert item.full_length == len(expected.ids)
        alone = encoder.encode(text)
        assert (item.ids, item.tokens, item.offsets) == (alone.ids, alone.tokens, alone.offsets)
        assert item.ids == (
            expected.ids if len(expected.ids) <= 8 else expected.ids[:3] + expected.ids[-5:]
        )
