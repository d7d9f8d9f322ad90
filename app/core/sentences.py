"""Sentence spans of a text: character offsets [start, end) into the text as sent.

The splitter is `sentencex` (Wikimedia; MIT; rule-based, one small Rust wheel with no
dependencies, ~300 languages with per-language abbreviation lists), chosen over pysbd (100x
slower: ~4 ms per review, more than the model) and blingfire (a 99 MB wheel, lower recall) on
real review sentences (docs/sentences.md, `python -m bench splitters`). Two rules are added:
- line breaks and IMDB's `<br />` markup end a sentence, and the tags stay outside every span;
- Korean (language "ko"): reviews often end a sentence without punctuation ("좋아요 배송도
  빨라요"), so a word ending in a polite or plain sentence-final ending, or a run of jamo
  emoticons (ㅋㅋ, ㅠㅠ), followed by a space ends one too.
Spans are trimmed of whitespace and never empty; together they cover every non-space character
outside the markup, in order.
"""

from __future__ import annotations

import itertools
import re

import sentencex

# A line break, or one or more <br> tags with the space around them
_BREAK = re.compile(r"(?:\s*<br\s*/?>\s*)+|\s*\n\s*", re.IGNORECASE)
# Korean sentence-final word followed by whitespace: the end is after the word. Endings chosen
# on KoBEST SentiNeg train (the evaluation uses dev): polite -요/-니다/-죠, plain -다 after a
# tense or verb syllable (not the particle 보다 "than"), -함/-임 and jamo emoticons; not -음
# (처음, 마음, 잡음 are nouns). An emoticon or punctuation run after the word stays with it.
_KO_END = re.compile(
    r"(?:[요죠]|니다|[었았였했겠는런된한됐싶좋같없있]다|[임함]|[ㅋㅎㅠㅜ]+|[.!?~…]+)"
    r"(?=\s+[^\sㅋㅎㅠㅜ.!?~…^])"
)


def _pieces(text: str) -> list[tuple[int, int]]:
    """[start, end) between line breaks and <br> markup."""
    pieces, start = [], 0
    for m in _BREAK.finditer(text):
        pieces.append((start, m.start()))
        start = m.end()
    pieces.append((start, len(text)))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _korean_cuts(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [m.end() for m in _KO_END.finditer(text, start, end)]
    bounds = [start, *cuts, end]
    return list(itertools.pairwise(bounds))


def split_spans(text: str, language: str) -> list[tuple[int, int]]:
    """The sentences of `text` as [start, end) character offsets, in order."""
    spans: list[tuple[int, int]] = []
    for piece_start, piece_end in _pieces(text):
        piece = text[piece_start:piece_end]
        if not piece.strip():
            continue
        for b in sentencex.get_sentence_boundaries(language, piece):
            start, end = piece_start + b["start_index"], piece_start + b["end_index"]
            parts = _korean_cuts(text, start, end) if language == "ko" else [(start, end)]
            spans += [s for s in (_trim(text, a, z) for a, z in parts) if s is not None]
    return spans
