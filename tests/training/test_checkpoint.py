"""Checkpoints: a saved model and its progress come back exactly; no half-written file remains."""

from pathlib import Path

import pytest
import torch

from tests.factories import tiny_config
from training import checkpoint
from training.models import ModelSpec, SentimentClassifier


def saved(tmp_path: Path) -> tuple[Path, SentimentClassifier]:
    torch.manual_seed(0)
    model = SentimentClassifier(ModelSpec(60, 3, embed_dim=4, hidden_dim=4, ngram_buckets=31))
    progress = checkpoint.Progress(member=0, epoch=2, step=40, best_score=0.71, best_epoch=2)
    config = tiny_config(tmp_path / "run", data_dir=str(tmp_path))
    path = tmp_path / checkpoint.LAST
    checkpoint.save(path, model, config, progress)
    return path, model


def test_model_and_progress_come_back_exactly(tmp_path: Path) -> None:
    path, model = saved(tmp_path)
    payload = checkpoint.load(path)
    restored, config = checkpoint.restore_model(payload)
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    torch.testing.assert_close(restored(ids), model.eval()(ids))
    assert checkpoint.restore_progress(payload).step == 40
    assert config.embed_dim == 16  # the tiny config's, saved beside the weights


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    path, _ = saved(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [path.name]


def test_a_missing_checkpoint_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train first"):
        checkpoint.load(tmp_path / checkpoint.BEST)
