from pathlib import Path

import pytest
import torch

from tests.factories import tiny_config
from training import checkpoint
from training.train import Trainer

pytestmark = pytest.mark.slow  # trains real runs

SLICE = {"train_files": ["imdb/train.tsv.gz"], "max_train_rows": 400, "epochs": 3, "patience": 5}


class Interrupted(Exception):
    pass


def crash_after_first_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Trainer.end_epoch

    def end_epoch(self: Trainer, stats: dict) -> bool:
        stop = original(self, stats)  # last.pt is written before the "crash"
        if stats["epoch"] == 1:
            raise Interrupted
        return stop

    monkeypatch.setattr(Trainer, "end_epoch", end_epoch)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(run / checkpoint.LAST)["model"]


def test_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path: Path, monkeypatch):
    Trainer(tiny_config(tmp_path / "straight", **SLICE), resume=False).run()

    interrupted = tiny_config(tmp_path / "resumed", **SLICE)
    with monkeypatch.context() as patch:
        crash_after_first_epoch(patch)
        with pytest.raises(Interrupted):
            Trainer(interrupted, resume=False).run()
    assert checkpoint.restore_progress(checkpoint.load(tmp_path / "resumed/last.pt")).epoch == 1
    Trainer(interrupted, resume=True).run()

    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name], tensor, msg=name)
    history = checkpoint.restore_progress(checkpoint.load(tmp_path / "resumed/last.pt")).history
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path: Path):
    config = tiny_config(tmp_path / "fresh", **{**SLICE, "epochs": 1})
    Trainer(config, resume=True).run()
    assert (tmp_path / "fresh" / checkpoint.BEST).is_file()


def test_ensemble_members_train_one_after_another(tmp_path: Path):
    config = tiny_config(tmp_path / "members", **{**SLICE, "epochs": 2, "members": 2})
    Trainer(config, resume=False).run()
    progress = checkpoint.restore_progress(checkpoint.load(tmp_path / "members/last.pt"))
    assert [(h["member"], h["epoch"]) for h in progress.history] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert "val_member_recurrent1" in progress.history[-1]
    mix = checkpoint.load(tmp_path / "members/best.pt")["model"]["mix"]
    assert mix.shape == (3, 2)  # two members and the n-gram member
