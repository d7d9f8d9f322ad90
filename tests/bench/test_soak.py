"""The soak script's trend and summary: a growing series shows a positive slope, a flat one none."""

from __future__ import annotations

import pytest

from bench.soak import summarise, trend

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def sample(t_s: float, rss_mb: float, p99: float) -> dict:
    latency = {"p50": p99 / 3, "p90": p99 / 2, "p99": p99}
    return {"t_s": t_s, "rss_mb": rss_mb, "requests": 100, "errors": {}, "latency_ms": latency}


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
