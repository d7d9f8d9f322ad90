"""The speed issue's goals read from a load run: the best service system, the right baselines."""

from __future__ import annotations

import pytest

from bench.serving_goals import check

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def _run(bodies: str, concurrency: int, rps: float, p50: float = 1.0, p99: float = 2.0) -> dict:
    return {
        "bodies": bodies,
        "concurrency": concurrency,
        "rps": rps,
        "latency_ms": {"p50": p50, "p99": p99},
        "load_before": 1.0,
        "load_after": 1.1,
    }


def _load() -> dict:
    one = [_run("sst2", 64, 3000), _run("sst2", 1, 900), _run("imdb", 64, 1000)]
    two = [_run("sst2", 64, 5500), _run("sst2", 1, 1200), _run("imdb", 64, 1250)]
    return {
        "systems": {
            "service": {"runs": [*one, _run("imdb", 1, 300, 3.0, 7.0)]},
            "service-2proc-int8": {"runs": [*two, _run("imdb", 1, 350, 2.4, 5.9)]},
            "baseline": {"runs": [_run("sst2", 1, 1000)]},
            "tfidf-lr": {"runs": [_run("sst2", 64, 6000), _run("imdb", 64, 2500)]},
        },
        "offline": {
            "imdb": [
                {"threads": 1, "model_seq_per_s": 700.0},
                {"threads": 2, "model_seq_per_s": 1000.0},
            ]
        },
    }


def test_each_goal_takes_the_best_service_system_and_its_own_baseline() -> None:
    short, reviews, one_caller, one_review = check(_load())
    assert short["met"] is True and short["measured"].startswith("0.92x (service-2proc-int8")
    assert reviews["met"] is True and reviews["measured"].startswith("1.25x (service-2proc-int8")
    # one caller compares like with like: one process each, not the best system
    assert one_caller["met"] is False and one_caller["measured"].startswith("0.90x (900 vs 1000")
    assert one_review["met"] is True and "p50 2.40 ms, p99 5.90 ms" in one_review["measured"]


def test_a_run_without_the_needed_systems_says_not_run() -> None:
    goals = check({"systems": {"service": {"runs": [_run("sst2", 64, 3000)]}}})
    assert [g["met"] for g in goals] == [None, None, None, None]
