"""`python -m app.bulk --model auto` on the real tiny bundles: each row scored by the bundle of
its language, with model, language and error columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.bulk.__main__ import main
from app.bulk.scorer import ScorerConfig, load_scorer

ROWS = [
    "What a wonderful film",
    "정말 재미있는 영화였어요",
    "Ce film est vraiment magnifique",
    "10",
]


def test_auto_scores_each_text_with_its_languages_bundle(bundles_root: Path) -> None:
    auto = load_scorer(ScorerConfig(model="auto", model_dir=bundles_root, max_texts=64))
    ko = load_scorer(ScorerConfig(model="tiny-ko", model_dir=bundles_root, max_texts=64))
    try:
        en_row, ko_row, fr_row, digits = auto.score(ROWS)
        (want,) = ko.score([ROWS[1]])
    finally:
        auto.close()
        ko.close()
    assert auto.labels == ["negative", "neutral", "positive"]
    assert (en_row.routed.model, en_row.routed.language) == ("tiny-en", "en")
    assert ko_row.routed.model == "tiny-ko"
    assert ko_row.probabilities["neutral"] is None  # tiny-ko has two labels
    assert ko_row.label == want.label
    for label, p in want.probabilities.items():
        assert ko_row.probabilities[label] == pytest.approx(p)
    assert fr_row.label is None and "'fr'" in fr_row.routed.error
    assert digits.routed.language == "und" and digits.label is not None


def test_the_command_writes_model_language_and_error_columns(
    bundles_root: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in ROWS))
    out = tmp_path / "out.jsonl"
    argv = [str(source), str(out), "--model", "auto", "--model-dir", str(bundles_root)]
    assert main([*argv, "--no-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["model"] for r in rows] == ["tiny-en", "tiny-ko", None, "tiny-en"]
    assert [r["language"] for r in rows] == ["en", "ko", "fr", "und"]
    assert rows[1]["p_neutral"] is None and rows[2]["label"] is None and rows[2]["error"]


def test_auto_refuses_ray(bundles_root: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "fine"}) + "\n")
    argv = [str(source), str(tmp_path / "o.jsonl"), "--model", "auto", "--ray", "local"]
    assert main([*argv, "--model-dir", str(bundles_root), "--no-progress"]) == 2
