"""`python -m bench truncation --curve`: accuracy and cost per max length on a real bundle."""

from __future__ import annotations

from pathlib import Path

from bench.truncation import CURVE_LENGTHS, curve, curve_chart


def test_curve_measures_every_length_and_draws_it(bundles_root: Path, tmp_path: Path) -> None:
    texts = ["a wonderful, moving film " * 40, "dull, slow and far too long " * 40] * 5
    labels = [1, 0] * 5
    points = curve(bundles_root / "tiny-en", texts, labels)
    assert [p["max_length"] for p in points] == list(CURVE_LENGTHS)
    for point in points:
        assert point["head_tokens"] == point["max_length"] // 4
        assert 0.0 <= point["accuracy"] <= 1.0 and point["n"] == len(texts)
        assert point["reviews_per_s"] > 0
    curve_chart(points, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
