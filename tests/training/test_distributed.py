"""Two CPU processes under torchrun (gloo) train one model on a tiny slice."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import DATA_DIR, REPO
from training import checkpoint

pytestmark = pytest.mark.slow  # trains real runs


@pytest.mark.timeout(300)
def test_two_process_torchrun_trains_and_checkpoints(tmp_path: Path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "training",
        "train",
        "--data-dir",
        str(DATA_DIR),
        "--out-dir",
        str(out),
        "--train-files",
        "imdb/train.tsv.gz",
        "--max-train-rows",
        "400",
        "--vocab-size",
        "2000",
        "--embed-dim",
        "16",
        "--hidden-dim",
        "16",
        "--max-length",
        "64",
        "--head-tokens",
        "16",
        "--epochs",
        "2",
        "--ngram-buckets",
        "4096",
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 1/2 joined (gloo)" in result.stderr
    progress = checkpoint.restore_progress(checkpoint.load(out / checkpoint.LAST))
    assert [h["epoch"] for h in progress.history] == [1, 2]
    # 360 training rows make 12 batches of <= 32 per epoch; each rank runs half of them
    assert progress.step == 2 * 6
