"""Start the student's token embedding from a pretrained encoder's word-piece vectors.

The student's tokenizer is its own (BPE fitted on the training mix), so its tokens are not the
encoder's. Each student token is spelt out, split into the encoder's word pieces, and given the
mean of their input vectors; principal components bring those vectors down to the student's
width, and a scale brings them to the spread of the random rows they replace. Tokens the encoder
cannot spell (byte tokens, padding, pieces it reads as [UNK], most emoji) keep their random rows.
Training then moves every row as before: this only changes where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from model.text import PAD_TOKEN, UNK_TOKEN
from training.teacher.encoder import encoder_folder
from training.tokenizer import is_byte_token

WORD_START = "\u2581"  # the student's metaspace marker
WORD_VECTORS = "embeddings.word_embeddings.weight"


@dataclass(frozen=True)
class SeededRows:
    """Row ids of the student's vocabulary and the vectors they start from."""

    ids: np.ndarray  # [n] int64
    vectors: np.ndarray  # [n, dim] float32
    vocab_size: int

    @property
    def coverage(self) -> float:
        return len(self.ids) / max(1, self.vocab_size)


def encoder_word_vectors(folder: Path) -> tuple[Tokenizer, np.ndarray]:
    """The encoder's tokenizer and its input word-piece vectors [pieces, width]."""
    from safetensors import safe_open  # the train extra only

    with safe_open(str(folder / "model.safetensors"), "np") as weights:
        if WORD_VECTORS not in weights.keys():  # noqa: SIM118 (safe_open has no __contains__)
            raise ValueError(f"{folder}: no {WORD_VECTORS} in model.safetensors")
        vectors = weights.get_tensor(WORD_VECTORS).astype(np.float32)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the encoder's file pads every text to 128 pieces
    tokenizer.no_truncation()
    return tokenizer, vectors


def spelling(token: str) -> tuple[str, bool] | None:
    """(the text a student token stands for, whether it starts a word); None: no spelling."""
    if token in (PAD_TOKEN, UNK_TOKEN) or is_byte_token(token):
        return None  # padding, unknown and byte tokens spell nothing
    if token.startswith(WORD_START):
        text = token[len(WORD_START) :]
        return (text, True) if text else None
    return token, False


def piece_ids(encoder: Tokenizer, text: str, word_start: bool) -> list[int]:
    """The encoder's word pieces for one student token; [] when it only knows it as [UNK]."""
    if not word_start:
        continuation = encoder.token_to_id("##" + text)
        if continuation is not None:
            return [continuation]
    ids = encoder.encode(text, add_special_tokens=False).ids
    unknown = encoder.token_to_id("[UNK]")
    return [] if not ids or unknown in ids else ids


def reduce_width(vectors: np.ndarray, width: int, spread: float) -> np.ndarray:
    """Project rows on their first `width` principal components, each scaled to std `spread`.

    Scaled alike, the components look like the random rows they replace (every element of
    the same spread); unscaled, the first component of these vectors is ~13x the last, and the
    recurrence's first steps would read little else."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    if components.shape[0] < width:
        found = components.shape[0]
        raise ValueError(f"the encoder's vectors have {found} dims, fewer than {width}")
    projected = centred @ components[:width].T
    return (projected * (spread / projected.std(axis=0, keepdims=True))).astype(np.float32)


def seeded_rows(student: Tokenizer, source: str, width: int, spread: float = 1.0) -> SeededRows:
    """Starting vectors for every student token the encoder can spell; `source` is an installed
    encoder package or a model folder."""
    folder = encoder_folder("", source) if Path(source).is_dir() else encoder_folder(source)
    encoder, table = encoder_word_vectors(folder)
    ids, means = [], []
    for token, index in sorted(student.get_vocab().items(), key=lambda item: item[1]):
        spelt = spelling(token)
        pieces = piece_ids(encoder, *spelt) if spelt else []
        if pieces:
            ids.append(index)
            means.append(table[pieces].mean(axis=0))
    if len(ids) <= width:
        raise ValueError(f"the encoder spells only {len(ids)} student tokens; too few to seed")
    return SeededRows(
        np.asarray(ids, dtype=np.int64),
        reduce_width(np.stack(means), width, spread),
        student.get_vocab_size(),
    )
