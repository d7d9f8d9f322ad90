"""Goal checks on a made-up run: ratios and thresholds, not timings."""

from __future__ import annotations

import pytest

from bench.goals import batching, efficiency, latency, table, vs_naive

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def run(system: str, bodies: str, concurrency: int, rps: float, p50: float, p99: float) -> dict:
    return {
        "system": system,
        "bodies": bodies,
        "concurrency": concurrency,
        "rps": rps,
        "latency_ms": {"p50": p50, "p99": p99},
    }


LOAD = {
    "systems": {
        "service": {
            "runs": [
                run("service", "imdb", 1, 200, 4.0, 9.0),
                run("service", "imdb", 64, 900, 70, 90),
                run("service", "sst2", 64, 3200, 20, 40),
            ]
        },
        "naive-torch": {"runs": [run("naive-torch", "imdb", 64, 250, 250, 400)]},
        "service-nobatch": {"runs": [run("service-nobatch", "sst2", 64, 1000, 60, 80)]},
    }
}


def test_service_against_naive() -> None:
    result = vs_naive(LOAD)
    assert result["met"] is True
    assert result["measured"].startswith("3.60x")
    assert vs_naive(LOAD, "naive-torch-1t", "one thread")["met"] is None  # not run here


def test_batching_needs_both_the_ratio_and_the_absolute_rate() -> None:
    assert batching(LOAD)["met"] is True
    slower = {"systems": {**LOAD["systems"]}}
    slower["systems"]["service"] = {"runs": [run("service", "sst2", 64, 2500, 20, 40)]}
    assert batching(slower)["met"] is False


def test_latency_at_one_connection() -> None:
    assert latency(LOAD)["met"] is True


def test_missing_systems_read_not_run() -> None:
    assert vs_naive({"systems": {}})["met"] is None
    assert "not run" in table([vs_naive({"systems": {}})])


def test_efficiency_is_judged_against_the_best_model_alone_run() -> None:
    alongside = {"imdb": {"model_seq_per_s": 1000.0, "pipeline_seq_per_s": 800.0}}
    quiet = {**LOAD, "offline_alongside": alongside}
    assert efficiency(quiet)["met"] is True  # 900 / 1000
    faster_offline = {**quiet, "offline": {"imdb": [{"model_seq_per_s": 1500.0}]}}
    result = efficiency(faster_offline)
    assert result["met"] is False  # 900 / 1500
    assert result["measured"].startswith("0.60")
