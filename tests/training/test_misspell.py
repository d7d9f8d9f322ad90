"""Misspelt copies: one typo per chosen word, never in mentions, hashtags or links."""

from __future__ import annotations

import pytest

from training.misspell import Misspeller, keyboard_neighbours


def _one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with one letter dropped, doubled, replaced, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swapped and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


TEXTS = [
    "Horrible experience, never again!",
    "@user the #update broke my phone http://t.co/AbCdEf thanks a lot",
    "The food was excellent but the waiter ignored us.",
    "I'm not sure how I feel about the new logo.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_copy_differs_by_single_edits_in_plain_words(text: str) -> None:
    misspell = Misspeller(seed=3, word_probability=0.3)
    for _ in range(200):
        copy = misspell(text)
        assert copy is not None and copy != text
        before, after = text.split(), copy.split()
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            if old != new:
                assert old[0] == new[0] and _one_edit_apart(old, new), (old, new)
                assert not old.startswith(("@", "#", "http"))


def test_a_text_without_a_word_of_four_letters_has_no_copy() -> None:
    misspell = Misspeller(seed=0, word_probability=1.0)
    assert misspell("ok :) 10/10 @user") is None
    assert misspell("") is None


def test_the_same_seed_gives_the_same_copies() -> None:
    first, second = Misspeller(7, 0.2), Misspeller(7, 0.2)
    assert [first(t) for t in TEXTS * 5] == [second(t) for t in TEXTS * 5]
    assert [Misspeller(8, 0.2)(t) for t in TEXTS * 5] != [first(t) for t in TEXTS * 5]


def test_case_is_kept_and_keys_are_neighbours_on_the_keyboard() -> None:
    neighbours = keyboard_neighbours()
    assert neighbours["s"] == "ad" and neighbours["q"] == "w" and neighbours["m"] == "n"
    misspell = Misspeller(seed=1, word_probability=1.0)
    for _ in range(100):
        copy = misspell("AWFUL")
        assert copy is not None and copy.isupper()
