"""Train the subword tokenizer whose `tokenizer.json` carries the whole text pipeline.

The normaliser does the clean-up the service must repeat exactly (HTML line breaks and tags,
Unicode NFKC, optional lower-casing), so it lives in the file rather than in Python code.
Only the training split is ever shown to the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from model.text import PAD_TOKEN, UNK_TOKEN

KINDS = ("wordpiece", "unigram", "bpe")


def build_normalizer(lowercase: bool) -> normalizers.Normalizer:
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(r"(?i)<br\s*/?>"), " "),  # IMDB line breaks
        normalizers.Replace(Regex(r"</?[a-zA-Z][^<>]{0,80}>"), " "),  # other markup tags
        normalizers.NFKC(),  # full-width forms, compatibility jamo, ligatures
    ]
    if lowercase:
        steps.append(normalizers.Lowercase())
    steps.append(normalizers.Replace(Regex(r"\s+"), " "))
    return normalizers.Sequence(steps)


def _model_and_trainer(kind: str, vocab_size: int, min_frequency: int) -> tuple:
    special = [PAD_TOKEN, UNK_TOKEN]  # ids 0 and 1, as model.text expects
    if kind == "wordpiece":
        model = models.WordPiece(unk_token=UNK_TOKEN, max_input_chars_per_word=64)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special,
            show_progress=False,
        )
        return model, trainer, decoders.WordPiece()
    if kind == "bpe":
        model = models.BPE(unk_token=UNK_TOKEN)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special,
            show_progress=False,
        )
        return model, trainer, decoders.Metaspace()
    if kind == "unigram":
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=special, unk_token=UNK_TOKEN, show_progress=False
        )
        return models.Unigram(), trainer, decoders.Metaspace()
    raise ValueError(f"tokenizer must be one of {KINDS}, got {kind!r}")


def train_tokenizer(
    texts: Sequence[str], kind: str, vocab_size: int, lowercase: bool, min_frequency: int = 2
) -> Tokenizer:
    """Fit a subword tokenizer on `texts` (the training split only)."""
    model, trainer, decoder = _model_and_trainer(kind, vocab_size, min_frequency)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = build_normalizer(lowercase)
    # BPE and Unigram mark word starts with a metaspace (so tokens keep word boundaries, which
    # the character n-grams need); WordPiece marks word continuations with ## instead
    split = [pre_tokenizers.Metaspace()] if kind != "wordpiece" else [pre_tokenizers.Whitespace()]
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [*split, pre_tokenizers.Punctuation(), pre_tokenizers.Digits(individual_digits=False)]
    )
    tokenizer.decoder = decoder
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    for token, expected in ((PAD_TOKEN, 0), (UNK_TOKEN, 1)):
        if tokenizer.token_to_id(token) != expected:
            raise RuntimeError(f"tokenizer put {token} at id {tokenizer.token_to_id(token)}")
    return tokenizer


def token_characters(tokenizer: Tokenizer, width: int) -> list[list[int]]:
    """Code points of each token as it appears in text, word starts as a leading space.

    Row i describes token id i (at most `width` code points, zero-padded). Special tokens have
    no characters. The table lets the model form character n-grams inside the ONNX graph from
    token ids alone.
    """
    rows = [[0] * width for _ in range(tokenizer.get_vocab_size())]
    for token, index in tokenizer.get_vocab().items():
        if token in (PAD_TOKEN, UNK_TOKEN):
            continue
        if token.startswith("\u2581"):  # metaspace: a word start
            text = " " + token[1:]
        elif token.startswith("##"):  # WordPiece continuation
            text = token[2:]
        else:
            text = token if isinstance(tokenizer.model, models.BPE) else " " + token
        codes = [ord(c) for c in text[:width]]
        rows[index][: len(codes)] = codes
    return rows
