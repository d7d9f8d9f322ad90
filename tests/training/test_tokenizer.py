import pytest

from model.bundle import Truncation
from model.text import UNK_ID, TextEncoder
from training.tokenizer import train_tokenizer

ENGLISH = [
    "This movie was great!<br /><br />I loved the acting.",
    "A dull, boring film. The plot made no sense.",
    "Terrible acting, but the music was wonderful.",
] * 30
KOREAN = [
    "아 더빙.. 진짜 짜증나네요 목소리",
    "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나",
    "너무재밓었다그래서보는것을추천한다",
    "이 영화 정말 재미있어요 배우들 연기가 좋아요",
    "진짜 최악의 영화 시간 아까움",
] * 30


def encoder(texts: list[str], max_length: int = 64, head: int = 16, lowercase: bool = True):
    tokenizer = train_tokenizer(texts, "wordpiece", 300, lowercase, min_frequency=1)
    return TextEncoder(tokenizer, Truncation(max_length, head))


def test_english_markup_is_removed_and_text_lower_cased():
    tokens = encoder(ENGLISH).encode("GREAT movie<br />I LOVED it").tokens
    assert "<" not in "".join(tokens) and "br" not in tokens
    assert tokens[:2] == ["great", "movie"]


def test_nfkc_folds_full_width_characters():
    english = encoder(ENGLISH)
    assert english.encode("ＧＲＥＡＴ　ｍｏｖｉｅ").ids == english.encode("great movie").ids


def test_korean_is_split_into_known_subwords_not_unknowns():
    encoded = encoder(KOREAN).encode("진짜 재미있어요 영화 최악")
    assert UNK_ID not in encoded.ids
    assert encoded.tokens[0] == "진짜"


def test_korean_compatibility_jamo_are_normalised():
    korean = encoder(KOREAN)
    assert korean.encode("ㄱㄴ").ids == korean.encode("\u3131\u3134").ids


def test_head_and_tail_truncation_keeps_both_ends():
    english = encoder(ENGLISH, max_length=8, head=3)
    text = "one two three four five six seven eight nine ten eleven twelve"
    full = english.tokenizer.encode(text, add_special_tokens=False).ids
    encoded = english.encode(text)
    assert encoded.ids == full[:3] + full[-5:]
    assert encoded.truncated and encoded.full_length == len(full)
    assert len(encoded.tokens) == len(encoded.offsets) == 8


def test_text_without_tokens_becomes_one_unknown():
    encoded = encoder(ENGLISH).encode("<br /><br />")
    assert encoded.ids == [UNK_ID] and not encoded.truncated


@pytest.mark.parametrize("kind", ["wordpiece", "unigram", "bpe"])
def test_every_tokenizer_kind_reserves_pad_and_unk(kind: str):
    tokenizer = train_tokenizer(ENGLISH + KOREAN, kind, 400, True, min_frequency=1)
    assert tokenizer.token_to_id("[PAD]") == 0 and tokenizer.token_to_id("[UNK]") == 1
