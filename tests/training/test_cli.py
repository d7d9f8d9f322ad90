import json
from pathlib import Path

import pytest

from model.bundle import load_bundle
from tests.factories import DATA_DIR, write_lines
from training.cli import main


def test_train_help_explains_every_option(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--resume" in out and "--ngram-buckets" in out and "head_tokens" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--epochz", "3"], "unknown config key 'epochz'"),
        (["train", "--epochs"], "--epochs needs a value"),
        (["train", "--config", "missing.toml"], "config file missing.toml does not exist"),
        (
            ["evaluate", "--bundle", "/nonexistent", "--data", "x.tsv"],
            "bundle folder does not exist",
        ),
    ],
)
def test_mistakes_exit_2_with_a_message(argv: list, message: str, capsys: pytest.CaptureFixture):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_data_file_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    bad = write_lines(tmp_path / "bad.tsv", ["label\ttext", "1\tfine", "maybe\thmm"])
    argv = ["train", "--train-files", str(bad), "--out-dir", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "bad.tsv:3: unknown or missing label 'maybe'" in capsys.readouterr().err


def test_evaluate_writes_metrics_and_plots(trained_root: Path, tmp_path: Path):
    bundle = tmp_path / "tiny-en"
    import shutil

    shutil.copytree(trained_root / "tiny-en", bundle)
    sample = write_lines(
        tmp_path / "sample.tsv",
        [
            "label\ttext",
            "1\tA wonderful, moving film.",
            "0\tAwful. A waste of time.",
            "1\tGreat acting and a great story.",
            "0\tBoring and badly written.",
        ],
    )
    out = tmp_path / "reports"
    run = trained_root.parent / "runs" / "tiny-en"
    argv = [
        "evaluate",
        "--bundle",
        str(bundle),
        "--data",
        str(sample),
        "--out",
        str(out),
        "--run",
        str(run),
        "--record",
        "--file-labels",
        "negative,positive",  # a binary file, a three-label bundle
    ]
    assert main(argv) == 0
    variant = load_bundle(bundle).manifest.default_variant
    metrics = json.loads((out / f"{tmp_path.name}-sample.{variant}.metrics.json").read_text())
    assert metrics["n"] == 4 and 0 <= metrics["ece"] <= 1 and len(metrics["confusion_matrix"]) == 2
    assert (out / f"{tmp_path.name}-sample.{variant}.confusion.png").stat().st_size > 5000
    assert (out / "learning_curves.png").stat().st_size > 5000
    recorded = load_bundle(bundle).manifest.variants[variant].metrics  # checksums still valid
    assert recorded[f"{tmp_path.name}-sample"]["n"] == 4


@pytest.mark.slow  # scores all 49,997 texts
def test_evaluate_reads_the_shared_korean_file_with_skip(bundles_root: Path, tmp_path: Path):
    argv = [
        "evaluate",
        "--bundle",
        str(bundles_root / "tiny-ko"),
        "--data",
        str(DATA_DIR / "nsmc/ratings_test.txt.gz"),
        "--empty-text",
        "skip",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    variant = load_bundle(bundles_root / "tiny-ko").manifest.default_variant
    metrics = json.loads((tmp_path / f"nsmc-ratings_test.{variant}.metrics.json").read_text())
    assert metrics["n"] == 49_997
