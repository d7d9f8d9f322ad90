"""The soak script's trend and summary: a growing series shows a positive slope, a flat one none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak import summarise, trend
from bench.swaps import bump_version, swap_times

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def sample(t_s: float, rss_mb: float, p99: float) -> dict:
    latency = {"p50": p99 / 3, "p90": p99 / 2, "p99": p99}
    return {
        "t_s": t_s,
        "rss_mb": rss_mb,
        "load": 1.0,
        "requests": 100,
        "errors": {},
        "latency_ms": latency,
    }


def test_trend_is_the_slope_per_minute() -> None:
    seconds = [0.0, 60.0, 120.0, 180.0]
    assert trend(seconds, [200.0, 202.0, 204.0, 206.0]) == pytest.approx(2.0)
    assert trend(seconds, [200.0] * 4) == pytest.approx(0.0)
    assert trend(seconds[:2], [1.0, 5.0]) == 0.0  # too few points to call a trend


def test_summary_reads_growth_from_the_second_half_only() -> None:
    warm_up = [sample(15.0 * i, 150.0 + 20 * i, 10.0) for i in range(4)]
    steady = [sample(15.0 * i, 230.0, 10.0 + i) for i in range(4, 8)]
    summary = summarise(warm_up + steady, connections=8, ready_s=0.5)
    assert summary["requests"] == 800 and summary["errors"] == 0
    assert summary["rss_mb"]["slope_mb_per_min_second_half"] == pytest.approx(0.0, abs=1e-9)
    assert summary["rss_mb"]["max"] == 230.0
    assert summary["p99_ms"]["slope_ms_per_min_second_half"] == pytest.approx(4.0)


def test_swaps_fall_mid_way_through_each_period() -> None:
    assert swap_times(30, 5) == [150.0, 450.0, 750.0, 1050.0, 1350.0, 1650.0]
    assert swap_times(10, 0) == []


def test_a_swap_gives_the_copy_a_new_version_and_keeps_the_rest(tmp_path: Path) -> None:
    bundle = tmp_path / "m"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"version": "2.0.1", "files": {"a": "x"}}))
    assert bump_version(bundle, "soak1") == "2.0.1+soak1"
    assert bump_version(bundle, "soak2") == "2.0.1+soak2"  # not 2.0.1+soak1+soak2
    assert json.loads((bundle / "manifest.json").read_text())["files"] == {"a": "x"}


def test_periods_split_the_segments_at_the_swaps() -> None:
    samples = [sample(15.0 * i, 200.0, 10.0 * i) for i in range(1, 7)]
    samples[3]["errors"] = {"status": 2}
    swaps = [{"t_s": 40.0, "status": 200}, {"t_s": 70.0, "status": 200}]
    summary = summarise(samples, connections=8, ready_s=0.5, swaps=swaps)
    assert [p["until_s"] for p in summary["periods"]] == [30.0, 60.0, 90.0]
    assert [p["errors"] for p in summary["periods"]] == [0, 2, 0]
    assert summary["periods"][1]["p99_ms_max"] == 40.0
    assert summary["swaps"] == 2 and summary["swaps_failed"] == 0
