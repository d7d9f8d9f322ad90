"""Train the subword tokenizer whose `tokenizer.json` carries the whole text pipeline.

The normaliser does every clean-up the service must repeat exactly (markup, HTML entities,
Unicode NFKC, emoji variation selectors and skin tones, curly quotes, lower-casing, links and
user mentions as placeholders, letters repeated for emphasis), and the pre-tokenizer keeps
emoticons and emoji whole, so it all lives in the file rather than in Python code. With byte
fallback, a character the vocabulary lacks becomes its UTF-8 bytes, never [UNK]. Only the
training split is ever shown to the trainer.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from model.text import PAD_TOKEN, UNK_TOKEN
from training.config import NORMALIZER_STEPS, TrainConfig

# Emoji blocks (pictographs, dingbats, arrows, misc. technical); each emoji is its own token.
EMOJI = r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{2300}-\x{23FF}]"
# Western emoticons as they read after lower-casing: :) :-( ;p :'( <3 </3 ^_^ -_- and mirrored.
EMOTICON = (
    r"(?:<3+|</3|:'\(|\^[_.-]?\^|-_+-"
    r"|[:;=8][\-o*'^]?[)\](\[dpo/\\|*3$@]+"
    r"|[)\](\[d][\-o*'^]?[:;=])"
)
# Every punctuation mark or symbol stands alone (what the Punctuation pre-tokenizer splits), and
# digit runs are split from letters; one regex, so an emoticon is never cut by a later split.
PUNCTUATION = r"[\p{P}$+<=>^`|~]"
DIGITS = r"\p{N}+"
ENTITIES = {"&amp;": "&", "&quot;": '"', "&lt;": "<", "&gt;": ">", "&#39;": "'", "&#039;": "'"}
# Marks that change an emoji's look, not its meaning: text/emoji presentation selectors, the
# zero-width joiner (family and profession sequences fall apart into their emoji), skin tones.
EMOJI_MODIFIERS = ("\ufe0e", "\ufe0f", "\u200d", *(chr(c) for c in range(0x1F3FB, 0x1F400)))
QUOTES = {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'}
# Characters the trainer keeps as the initial alphabet; rarer ones fall back to bytes.
ALPHABET_LIMIT = 1000


def _literal(pairs: dict[str, str]) -> list[normalizers.Normalizer]:
    # literal replacements cost ~3 us per IMDB review each; a regex class with non-ASCII
    # characters costs ~40 us
    return [normalizers.Replace(old, new) for old, new in pairs.items()]


def _step(name: str) -> list[normalizers.Normalizer]:
    """The normalisers of one named step (see NORMALIZER_STEPS for the order they run in)."""
    if name == "markup":
        return [
            normalizers.Replace(Regex(r"(?i)<br\s*/?>"), " "),  # IMDB line breaks
            normalizers.Replace(Regex(r"</?[a-zA-Z][^<>]{0,80}>"), " "),  # other tags
        ]
    if name == "entities":  # after markup, so "&lt;3" becomes the heart emoticon "<3"
        return [*_literal(ENTITIES), normalizers.Replace("&nbsp;", " ")]
    if name == "nfkc":
        return [normalizers.NFKC()]  # full-width forms, compatibility jamo, ligatures
    if name == "emoji":
        return _literal(dict.fromkeys(EMOJI_MODIFIERS, ""))
    if name == "quotes":
        return _literal(QUOTES)
    if name == "lowercase":
        return [normalizers.Lowercase()]
    if name == "links":  # after lower-casing: a case-blind pattern costs 4x more
        return [normalizers.Replace(Regex(r"(?:https?://|www\.)\S+"), " http ")]
    if name == "mentions":  # TweetEval's own convention
        return [normalizers.Replace(Regex(r"@[a-z0-9_]+"), "@user")]
    if name == "elongation":  # "soooo" -> "soo", "yesss" -> "yess": a run of 3+ keeps two
        return [normalizers.Replace(Regex(c + "{3,}"), c + c) for c in string.ascii_lowercase]
    if name == "whitespace":  # NFKC already made exotic spaces plain; only runs need work
        other = r"\t\n\r\x0b\x0c\x{85}\x{2028}\x{2029}"
        runs = Regex(f"[ {other}]{{2,}}|[{other}]")
        # and no space at either end, which would become a lone word-start token
        return [normalizers.Replace(runs, " "), normalizers.Strip()]
    raise ValueError(f"unknown normalizer step {name!r}; choose from {list(NORMALIZER_STEPS)}")


def build_normalizer(steps: Sequence[str], lowercase: bool = True) -> normalizers.Normalizer:
    chosen = [s for s in NORMALIZER_STEPS if s in steps and (lowercase or s != "lowercase")]
    return normalizers.Sequence([n for step in chosen for n in _step(step)])


def build_pre_tokenizer(kind: str) -> pre_tokenizers.PreTokenizer:
    # BPE and Unigram mark word starts with a metaspace (so tokens keep word boundaries, which
    # the character n-grams need); WordPiece marks word continuations with ## instead
    words = pre_tokenizers.Metaspace() if kind != "wordpiece" else pre_tokenizers.Whitespace()
    pieces = Regex(f"{EMOTICON}|{EMOJI}|{PUNCTUATION}|{DIGITS}")
    return pre_tokenizers.Sequence([words, pre_tokenizers.Split(pieces, "isolated")])


def byte_tokens() -> list[str]:
    """The 256 tokens byte fallback needs, named as `tokenizers` expects."""
    return [f"<0x{b:02X}>" for b in range(256)]


def _decoder() -> decoders.Decoder:
    """Byte tokens back to characters, then metaspaces back to spaces."""
    return decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoders.Metaspace()])


def _model_and_trainer(config: TrainConfig) -> tuple:
    special = [PAD_TOKEN, UNK_TOKEN]  # ids 0 and 1, as model.text expects
    # the byte tokens are kept out of the trainer's budget and added to the vocabulary after
    budget = config.vocab_size - (256 if config.byte_fallback else 0)
    common = {"vocab_size": budget, "special_tokens": special, "show_progress": False}
    if config.tokenizer == "wordpiece":
        model = models.WordPiece(unk_token=UNK_TOKEN, max_input_chars_per_word=64)
        trainer = trainers.WordPieceTrainer(min_frequency=2, **common)
        return model, trainer, decoders.WordPiece()
    if config.tokenizer == "bpe":
        model = models.BPE(unk_token=UNK_TOKEN)
        trainer = trainers.BpeTrainer(min_frequency=2, limit_alphabet=ALPHABET_LIMIT, **common)
        return model, trainer, _decoder()
    if config.tokenizer == "unigram":
        trainer = trainers.UnigramTrainer(unk_token=UNK_TOKEN, **common)
        return models.Unigram(), trainer, _decoder()
    raise ValueError(f"tokenizer must be bpe, unigram or wordpiece, got {config.tokenizer!r}")


def with_byte_fallback(tokenizer: Tokenizer) -> Tokenizer:
    """Append the 256 byte tokens to the trained vocabulary and switch byte fallback on.

    They go into the model's own vocabulary (not as added tokens, which would match the
    literal text "<0x41>" in user input); merges and every existing id stay as they are.
    """
    import json

    data = json.loads(tokenizer.to_str())
    model = data["model"]
    vocab = model["vocab"]
    if isinstance(vocab, dict):  # BPE: token -> id
        for token in byte_tokens():
            vocab.setdefault(token, len(vocab))
    else:  # Unigram: [token, score] pairs; bytes rank below every learned piece
        floor = min(score for _, score in vocab) - 1.0
        known = {token for token, _ in vocab}
        vocab.extend([token, floor] for token in byte_tokens() if token not in known)
    model["byte_fallback"] = True
    return Tokenizer.from_str(json.dumps(data))


def most_common_characters(texts: Sequence[str], tokenizer: Tokenizer, limit: int) -> list[str]:
    """The `limit` most frequent characters of the pre-tokenized words, ties broken by code
    point. The BPE trainer's own cut at `limit_alphabet` breaks ties in hash order, which
    varies from process to process: one run kept "삐" and another "껐" (equal counts), and every
    id and merge after them moved."""
    counts: Counter[str] = Counter()
    normalize, split = tokenizer.normalizer.normalize_str, tokenizer.pre_tokenizer.pre_tokenize_str
    for text in texts:
        counts.update("".join(word for word, _ in split(normalize(text))))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [character for character, _ in ranked[:limit]]


def train_tokenizer(texts: Sequence[str], config: TrainConfig) -> Tokenizer:
    """Fit a subword tokenizer on `texts` (the training split only)."""
    model, trainer, decoder = _model_and_trainer(config)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = build_normalizer(config.normalizer_steps, config.lowercase)
    tokenizer.pre_tokenizer = build_pre_tokenizer(config.tokenizer)
    tokenizer.decoder = decoder
    if config.tokenizer == "bpe":  # the kept alphabet, chosen the same way in every process
        trainer.initial_alphabet = most_common_characters(texts, tokenizer, ALPHABET_LIMIT)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    if config.byte_fallback:
        tokenizer = with_byte_fallback(tokenizer)
    for token, expected in ((PAD_TOKEN, 0), (UNK_TOKEN, 1)):
        if tokenizer.token_to_id(token) != expected:
            raise RuntimeError(f"tokenizer put {token} at id {tokenizer.token_to_id(token)}")
    return tokenizer


BYTE_CHARACTER_BASE = 0x110000  # past Unicode: a byte token's stand-in "code point" is this + b


def is_byte_token(token: str) -> bool:
    """A byte-fallback token, `<0xNN>` (see `byte_tokens`)."""
    return token.startswith("<0x") and token.endswith(">") and len(token) == 6


def _token_text(token: str, tokenizer: Tokenizer) -> list[int]:
    if is_byte_token(token):
        return [BYTE_CHARACTER_BASE + int(token[3:5], 16)]
    if token.startswith("\u2581"):  # metaspace: a word start
        text = " " + token[1:]
    elif token.startswith("##"):  # WordPiece continuation
        text = token[2:]
    else:
        text = token if isinstance(tokenizer.model, models.BPE) else " " + token
    return [ord(c) for c in text]


def token_characters(tokenizer: Tokenizer, width: int) -> list[list[int]]:
    """Code points of each token as it appears in text, word starts as a leading space.

    Row i describes token id i (at most `width` code points, zero-padded). Special tokens have
    no characters; a byte token has one stand-in past Unicode. The table lets the model form
    character n-grams inside the ONNX graph from token ids alone.
    """
    rows = [[0] * width for _ in range(tokenizer.get_vocab_size())]
    for token, index in tokenizer.get_vocab().items():
        if token in (PAD_TOKEN, UNK_TOKEN):
            continue
        codes = _token_text(token, tokenizer)[:width]
        rows[index][: len(codes)] = codes
    return rows
