"""The bulk scorer on a real tiny bundle: the service's answers, through the service's code."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from app.bulk.__main__ import main
from app.bulk.scorer import ScorerConfig, describe_model, load_scorer
from app.core.registry import LoadPlan, load_model
from app.core.worker import Job
from tests.factories import DATA_DIR

TEXTS = ["bad", "a fine film, moving and well acted " * 30, "", "great", "dull " * 200]


@pytest.fixture(scope="module")
def scorer(bundles_root: Path):
    scorer = load_scorer(ScorerConfig(model="tiny-en", model_dir=bundles_root, max_texts=64))
    yield scorer
    scorer.close()


@pytest.mark.unit
def test_answers_are_the_services(scorer, bundles_root: Path) -> None:
    served = load_model(bundles_root / "tiny-en", LoadPlan())
    expected = served.score_batch([Job(t, full_model=False) for t in TEXTS])
    results = scorer.score(TEXTS)
    assert scorer.labels == served.labels and len(results) == len(TEXTS)
    for result, want in zip(results, expected, strict=True):
        assert list(result.probabilities.values()) == pytest.approx(want.probabilities, abs=1e-6)
        assert result.label == served.labels[want.probabilities.index(max(want.probabilities))]
        assert result.path == want.path  # tiny-en has a cascade


@pytest.mark.unit
def test_describe_reads_the_manifest_without_loading(bundles_root: Path) -> None:
    info = describe_model(ScorerConfig(model="tiny-en", model_dir=bundles_root))
    labels = ["negative", "neutral", "positive"]
    assert (info.name, info.variant, info.labels, info.cascade) == ("tiny-en", "fp32", labels, True)


def imdb_slice(path: Path, rows: int) -> Path:
    with gzip.open(DATA_DIR / "imdb" / "test.tsv.gz", "rt") as handle:
        path.write_text("".join(next(handle) for _ in range(rows + 1)))
    return path


def test_cli_scores_imdb_reviews(bundles_root: Path, tmp_path: Path) -> None:
    src, out = imdb_slice(tmp_path / "imdb.tsv", 50), tmp_path / "out.csv.gz"
    argv = [str(src), str(out), "--model", "tiny-en", "--model-dir", str(bundles_root)]
    assert main([*argv, "--prefix", "pred_", "--chunk-rows", "16", "--no-progress"]) == 0
    with gzip.open(out, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50 and rows[0]["label"] == "0"
    assert {r["pred_label"] for r in rows} <= {"negative", "neutral", "positive"}
    assert {r["pred_path"] for r in rows} <= {"fast", "full"}
    p = sum(float(rows[0][f"pred_p_{label}"]) for label in ("negative", "neutral", "positive"))
    assert p == pytest.approx(1.0)


def test_cli_refuses_an_unknown_model(bundles_root: Path, tmp_path: Path, capsys) -> None:
    src = imdb_slice(tmp_path / "imdb.tsv", 2)
    argv = [str(src), str(tmp_path / "o.csv"), "--model", "nope", "--model-dir", str(bundles_root)]
    assert main([*argv, "--prefix", "p_"]) == 2
    assert "no bundle named 'nope'" in capsys.readouterr().err


def test_cli_sentences_adds_the_aggregate_and_each_sentence(
    bundles_root: Path, tmp_path: Path
) -> None:
    src, out = imdb_slice(tmp_path / "imdb.tsv", 6), tmp_path / "out.jsonl"
    argv = [str(src), str(out), "--model", "tiny-en", "--model-dir", str(bundles_root)]
    assert main([*argv, "--prefix", "pred_", "--sentences", "--no-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6
    for row in rows:
        sentences = json.loads(row["pred_sentences"])
        assert len(sentences) > 1
        assert all(row["text"][s["start"] : s["end"]].strip() for s in sentences)
        assert row["pred_aggregate_label"] in ("negative", "neutral", "positive")
        assert isinstance(row["pred_mixed"], bool) and 0 <= row["pred_mixed_score"] <= 1


def test_sentence_answers_are_the_texts_answers_alone(scorer, bundles_root: Path) -> None:
    config = ScorerConfig(model="tiny-en", model_dir=bundles_root, max_texts=4, sentences=True)
    with_sentences = load_scorer(config)
    try:
        (result,) = with_sentences.score(["Great film. Awful ending! Fine."])
    finally:
        with_sentences.close()
    alone = scorer.score(
        ["Great film.", "Awful ending!", "Fine.", "Great film. Awful ending! Fine."]
    )
    assert result.probabilities == pytest.approx(alone[3].probabilities)
    sentences = result.analysis["sentences"]
    for sentence, want in zip(sentences, alone[:3], strict=True):
        assert sentence["probabilities"] == pytest.approx(want.probabilities)
