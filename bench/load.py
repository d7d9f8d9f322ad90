"""The services under load, side by side in one run: the service (batching on and off), the
naive PyTorch server and TF-IDF + LR served the same way, each at concurrency 1, 16 and 64 with
wrk rotating real test-set bodies; plus the same texts through the model alone (no HTTP).

    python -m bench.load [--quick] [--seconds 20] [--systems service naive-torch ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from bench.bodies import write_bodies
from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, REPO, load_average, loaded, write_json
from bench.servers.launch import (
    RssSampler,
    Running,
    ServerSpec,
    get,
    running_server,
    tree_rss_mb,
)
from bench.wrk import run_wrk

BODY_SETS = {"imdb": "long: IMDB test reviews", "sst2": "short: SST-2 test sentences"}
_BATCH_LINE = re.compile(r"^sentiment_batch_size_(sum|count)\{[^}]*\} ([0-9.e+]+)$", re.M)


def service_spec(name: str, model_dir: Path, cwd: Path = REPO, **env: str) -> ServerSpec:
    base = {
        "SENTIMENT_MODEL_DIR": str(model_dir),
        "SENTIMENT_DRAIN_SECONDS": "0",
        "SENTIMENT_HOST": "127.0.0.1",
    }
    return ServerSpec(name, [sys.executable, "-m", "app"], {**base, **env}, cwd=cwd)


def system_specs(model_dir: Path, before: Path | None = None) -> dict[str, ServerSpec]:
    """Every system that can be put under load, by name; `before` is a checkout of the code
    before the speed work (`service-before`, `service-before-nobatch`)."""
    en = str(model_dir / "sentiment-en")
    module = [sys.executable, "-m"]
    specs = {}
    if before is not None:
        specs["service-before"] = service_spec("service-before", model_dir, cwd=before)
        specs["service-before-nobatch"] = service_spec(
            "service-before-nobatch", model_dir, cwd=before, SENTIMENT_MAX_BATCH_SIZE="1"
        )
    return specs | {
        "service": service_spec("service", model_dir),
        "service-nobatch": service_spec("service-nobatch", model_dir, SENTIMENT_MAX_BATCH_SIZE="1"),
        "service-int8": service_spec("service-int8", model_dir, SENTIMENT_VARIANT="int8"),
        "naive-torch": ServerSpec(
            "naive-torch", [*module, "bench.servers.naive_torch", "--bundle", en]
        ),
        "tfidf-lr": ServerSpec("tfidf-lr", [*module, "bench.servers.tfidf_server"]),
    }


def batch_totals(metrics_text: str) -> tuple[float, float]:
    """(texts, batches) summed over models from the service's Prometheus text."""
    totals = {"sum": 0.0, "count": 0.0}
    for kind, value in _BATCH_LINE.findall(metrics_text):
        totals[kind] += float(value)
    return totals["sum"], totals["count"]


def scrape_batches(server: Running) -> tuple[float, float] | None:
    try:
        status, body = get(server.url + "/metrics")
    except OSError:
        return None
    return batch_totals(body.decode()) if status == 200 else None


def measure(server: Running, lua: Path, connections: int, seconds: float) -> dict[str, Any]:
    record: dict[str, Any] = {"concurrency": connections}
    before = scrape_batches(server)
    with loaded(record), RssSampler(server.process.pid) as rss:
        record |= run_wrk(server.url + "/predict", lua, connections, seconds).as_dict()
    after = scrape_batches(server)
    record["rss_mb_peak"] = round(rss.peak_mb, 1)
    if before and after and after[1] > before[1]:
        record["mean_batch"] = round((after[0] - before[0]) / (after[1] - before[1]), 2)
    return record


def print_row(system: str, bodies: str, r: dict[str, Any]) -> None:
    lat, err = r["latency_ms"], r["errors"]
    print(
        f"{system:16s} {bodies:5s} c={r['concurrency']:3d}: {r['rps']:8.1f} req/s  "
        f"p50 {lat['p50']:7.2f}  p90 {lat['p90']:7.2f}  p99 {lat['p99']:7.2f} ms  "
        f"errors {sum(err.values())}  batch {r.get('mean_batch', '-')}  "
        f"rss {r['rss_mb_peak']:.0f} MB  load {r['load_before']}->{r['load_after']}",
        flush=True,
    )


def run_system(
    spec: ServerSpec, scripts: dict[str, Path], concurrency: list[int], seconds: float
) -> dict[str, Any]:
    """Start one server, load it with every body set at every concurrency, stop it."""
    result: dict[str, Any] = {"runs": []}
    with running_server(spec) as server:
        result["ready_s"] = round(server.ready_s, 2)
        result["rss_mb_ready"] = round(tree_rss_mb(server.process.pid), 1)
        for bodies, lua in scripts.items():
            run_wrk(server.url + "/predict", lua, 16, min(2.0, seconds))  # warm-up, not recorded
            for connections in concurrency:
                record = {"system": spec.name, "bodies": bodies}
                record |= measure(server, lua, connections, seconds)
                print_row(spec.name, bodies, record)
                result["runs"].append(record)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="5 s per point instead of 20")
    parser.add_argument("--seconds", type=float, default=None, help="per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--systems", nargs="+", default=["service", "service-nobatch", "naive-torch", "tfidf-lr"]
    )
    parser.add_argument("--bodies", nargs="+", default=list(BODY_SETS), choices=list(BODY_SETS))
    parser.add_argument("--count", type=int, default=1000, help="distinct bodies per set")
    parser.add_argument("--before", type=Path, help="checkout of the code before the speed work")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    scripts = {b: write_bodies(args.data_dir, b, args.count, False)["lua"] for b in args.bodies}
    specs = system_specs(args.model_dir.resolve(), args.before)
    payload: dict[str, Any] = {"seconds_per_point": seconds, "load_start": load_average()}
    payload["systems"] = {
        name: run_system(specs[name], scripts, args.concurrency, seconds) for name in args.systems
    }
    payload["load_end"] = load_average()
    write_json("load", payload)
    from bench.plots import plot_latency, plot_throughput

    plot_throughput(payload)
    plot_latency(payload)


if __name__ == "__main__":
    main()
