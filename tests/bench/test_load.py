"""The load runner's bookkeeping: metrics parsing, merging rounds, variants, CPU per request."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.bodies import request_bodies
from bench.load import batch_totals, merge_rounds, system_specs, variant_spec
from bench.servers.launch import cpu_per_request, tree_rss_mb

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

METRICS = """# HELP sentiment_batch_size Texts per batch
sentiment_batch_size_bucket{le="1.0",model="a"} 3.0
sentiment_batch_size_count{model="a"} 10.0
sentiment_batch_size_sum{model="a"} 250.0
sentiment_batch_size_count{model="b"} 2.0
sentiment_batch_size_sum{model="b"} 6.0
"""


def test_batch_totals_add_up_every_model() -> None:
    assert batch_totals(METRICS) == (256.0, 12.0)


def one_round(requests: int, seconds: float, p99: float, batch: float) -> dict:
    return {
        "concurrency": 64,
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        "errors": {"connect": 0, "status": 1},
        "latency_ms": {"p50": 1.0, "p99": p99},
        "rss_mb_peak": 100.0 + requests / 100,
        "mean_batch": batch,
        "cpu_ms_per_req": 0.5,
        "load_before": 1.0,
        "load_after": 2.0,
    }


def test_rounds_merge_into_totals_and_medians() -> None:
    merged = merge_rounds([one_round(1000, 5, 10.0, 8), one_round(3000, 5, 30.0, 16)])
    assert merged["requests"] == 4000 and merged["rps"] == 400.0
    assert merged["errors"]["status"] == 2
    assert merged["latency_ms"]["p99"] == 20.0
    assert merged["rss_mb_peak"] == 130.0
    assert merged["mean_batch"] == 12.0
    assert merged["rps_rounds"] == [200.0, 600.0]


def test_variant_sets_environment_variables(tmp_path: Path) -> None:
    spec = variant_spec("threads2:SENTIMENT_INTRA_OP_THREADS=2,X=1", tmp_path, None)
    assert spec.name == "threads2"
    assert spec.env["SENTIMENT_INTRA_OP_THREADS"] == "2" and spec.env["X"] == "1"
    assert spec.env["SENTIMENT_MODEL_DIR"] == str(tmp_path)


def test_processes_variant_runs_several_service_processes_on_one_port(tmp_path: Path) -> None:
    spec = variant_spec("two:PROCESSES=2,SENTIMENT_BATCH_WORKERS=1", tmp_path, None)
    command = " ".join(spec.command)
    assert "--workers 2" in command and "--factory app.main:create_app" in command
    assert '"$BENCH_PORT"' in command
    assert "PROCESSES" not in spec.env and spec.env["SENTIMENT_BATCH_WORKERS"] == "1"
    assert spec.env["SENTIMENT_MODEL_DIR"] == str(tmp_path)


def test_baseline_checkout_is_measured_beside_this_one(tmp_path: Path) -> None:
    specs = system_specs(tmp_path, tmp_path, baseline=tmp_path / "base")
    assert specs["baseline"].cwd == tmp_path / "base" != specs["service"].cwd
    assert specs["baseline-nobatch"].env["SENTIMENT_MAX_BATCH_SIZE"] == "1"
    assert variant_spec("baseline-2t:X=1", tmp_path, tmp_path / "base").cwd == tmp_path / "base"


def test_cpu_per_request_uses_the_busiest_thread() -> None:
    before = {"1/1": 1.0, "1/2": 0.0}
    after = {"1/1": 2.0, "1/2": 0.5, "1/3": 0.5}
    assert cpu_per_request(before, after, 1000) == {
        "cpu_ms_per_req": 2.0,
        "busiest_thread_ms_per_req": 1.0,
    }


def test_own_memory_is_measured() -> None:
    assert tree_rss_mb(os.getpid()) > 1


@pytest.mark.parametrize("model", [None, "sentiment-ko"])
def test_bodies_are_json_with_the_text(model: str | None) -> None:
    (body,) = request_bodies(['say "좋아요"'], model)
    decoded = json.loads(body)
    assert decoded["text"] == 'say "좋아요"'
    assert decoded.get("model") == model
