"""The services under load, side by side in one run: the service (batching on and off), the
naive PyTorch server and TF-IDF + LR served the same way, each at concurrency 1, 16 and 64 with
wrk rotating real test-set bodies; plus the same texts through the model alone (no HTTP).

    python -m bench load [--quick] [--seconds 20] [--systems service naive-torch ...]
    python -m bench load --systems service --variant 'NAME:SENTIMENT_X=1,...' --name NAME
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.bodies import write_bodies
from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, REPO, load_average, loaded, write_json
from bench.offline import Offline, offline, texts_of
from bench.servers.launch import (
    RssSampler,
    Running,
    ServerSpec,
    cpu_per_request,
    get,
    running_server,
    thread_cpu_s,
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
        # several services run side by side: one fixed gRPC port would collide (HTTP is measured)
        "SENTIMENT_GRPC_ENABLED": "false",
    }
    return ServerSpec(name, [sys.executable, "-m", "app"], {**base, **env}, cwd=cwd)


def system_specs(
    model_dir: Path, data_dir: Path, baseline: Path | None = None
) -> dict[str, ServerSpec]:
    """Every system that can be put under load, by name; `baseline` is another checkout of the
    service (e.g. `git worktree add /tmp/base main`) measured in the same rounds (`baseline`,
    `baseline-nobatch`), for before/after ratios."""
    en = str(model_dir / "sentiment-en")
    module = [sys.executable, "-m"]
    specs = {}
    if baseline is not None:
        specs["baseline"] = service_spec("baseline", model_dir, cwd=baseline)
        specs["baseline-nobatch"] = service_spec(
            "baseline-nobatch", model_dir, cwd=baseline, SENTIMENT_MAX_BATCH_SIZE="1"
        )
    return specs | {
        "service": service_spec("service", model_dir),
        "service-nobatch": service_spec("service-nobatch", model_dir, SENTIMENT_MAX_BATCH_SIZE="1"),
        "service-int8": service_spec("service-int8", model_dir, SENTIMENT_VARIANT="int8"),
        "naive-torch": ServerSpec(
            "naive-torch", [*module, "bench.servers.naive_torch", "--bundle", en]
        ),
        "naive-torch-1t": ServerSpec(
            "naive-torch-1t",
            [*module, "bench.servers.naive_torch", "--bundle", en, "--threads", "1"],
        ),
        "tfidf-lr": ServerSpec(
            "tfidf-lr", [*module, "bench.servers.tfidf_server", "--data-dir", str(data_dir)]
        ),
        # process for process against SENTIMENT_PROCESSES=2 (the setting is a variant there)
        "tfidf-lr-2proc": ServerSpec(
            "tfidf-lr-2proc",
            [
                *module,
                "bench.servers.tfidf_server",
                "--data-dir",
                str(data_dir),
                "--processes",
                "2",
            ],
        ),
    }


def processes_spec(
    name: str, model_dir: Path, processes: int, cwd: Path = REPO, **env: str
) -> ServerSpec:
    """`processes` copies of the service sharing one listening port (uvicorn's supervisor,
    `--factory app.main:create_app --workers N`), each with its own models and batchers."""
    spec = service_spec(name, model_dir, cwd=cwd, TOKENIZERS_PARALLELISM="false", **env)
    command = (
        f'exec "{sys.executable}" -m uvicorn --factory app.main:create_app --workers {processes}'
        ' --host 127.0.0.1 --port "$BENCH_PORT" --no-access-log --log-level warning'
    )
    return ServerSpec(name, ["sh", "-c", command], spec.env, cwd=cwd)


def variant_spec(definition: str, model_dir: Path, baseline: Path | None) -> ServerSpec:
    """`name:KEY=VALUE,KEY=VALUE`: the service with extra environment variables (a lever to
    measure); a name starting with `baseline` runs the `--baseline` checkout; `PROCESSES=N`
    runs N service processes on one port (see `processes_spec`)."""
    name, _, assignments = definition.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    cwd = baseline if name.startswith("baseline") and baseline is not None else REPO
    processes = int(env.pop("PROCESSES", "1"))
    if processes > 1:
        return processes_spec(name, model_dir, processes, cwd=cwd, **env)
    return service_spec(name, model_dir, cwd=cwd, **env)


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
    cpu_before = thread_cpu_s(server.process.pid)
    with loaded(record), RssSampler(server.process.pid) as rss:
        record |= run_wrk(server.url + "/predict", lua, connections, seconds).as_dict()
    cpu = cpu_per_request(cpu_before, thread_cpu_s(server.process.pid), record["requests"])
    record |= cpu
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
        f"cpu {r.get('cpu_ms_per_req', 0):.3f} ms/req "
        f"(busiest thread {r.get('busiest_thread_ms_per_req', 0):.3f})  "
        f"rss {r['rss_mb_peak']:.0f} MB  load {r['load_before']}->{r['load_after']}",
        flush=True,
    )


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per point from interleaved rounds: requests and errors add up, req/s is the
    total over the total time, latency percentiles are the median over rounds, memory the peak,
    load the first and last reading."""
    merged = dict(rounds[0])
    seconds = sum(r["seconds"] for r in rounds)
    merged["requests"] = sum(r["requests"] for r in rounds)
    merged["seconds"] = round(seconds, 3)
    merged["rps"] = round(merged["requests"] / seconds, 1) if seconds else 0.0
    merged["rps_rounds"] = [r["rps"] for r in rounds]
    merged["errors"] = {k: sum(r["errors"][k] for r in rounds) for k in rounds[0]["errors"]}
    merged["latency_ms"] = {
        k: round(statistics.median(r["latency_ms"][k] for r in rounds), 3)
        for k in rounds[0]["latency_ms"]
    }
    merged["rss_mb_peak"] = max(r["rss_mb_peak"] for r in rounds)
    for key in ("cpu_ms_per_req", "busiest_thread_ms_per_req"):
        values = [r[key] for r in rounds if key in r]
        if values:
            merged[key] = round(statistics.median(values), 3)
    batches = [r["mean_batch"] for r in rounds if "mean_batch" in r]
    if batches:
        merged["mean_batch"] = round(statistics.mean(batches), 2)
    merged["load_after"] = rounds[-1]["load_after"]
    return merged


def interleaved(
    servers: dict[str, Running],
    lua: Path,
    connections: int,
    plan: dict[str, float],
    alone: Offline | None = None,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Every server in turn, `rounds` times (the order rotating), `seconds / rounds` each, so
    slow drifts in the machine's load fall on every system alike; with `alone`, the same texts
    through the model alone (no HTTP) in every round too."""
    names, rounds = list(servers), int(plan["rounds"])
    share = plan["seconds"] / rounds
    per_round: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    offline_rounds: list[dict[str, Any]] = []
    for k in range(rounds):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            per_round[name].append(measure(servers[name], lua, connections, share))
        if alone is not None:
            offline_rounds.append(alone.measure(share))
    merged = {name: merge_rounds(records) for name, records in per_round.items()}
    return merged, offline_rounds


def merge_offline(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean rates over the rounds, first and last load reading."""
    merged = dict(rounds[0])
    for key in ("model_seq_per_s", "pipeline_seq_per_s"):
        merged[key] = round(statistics.mean(r[key] for r in rounds), 1)
    merged["load_after"] = rounds[-1]["load_after"]
    return merged


def run_point(
    servers: dict[str, Running],
    bodies: str,
    lua: Path,
    connections: int,
    plan: dict[str, float],
    alone: Offline | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    results, offline_rounds = interleaved(servers, lua, connections, plan, alone)
    runs = []
    for name, record in results.items():
        record = {"system": name, "bodies": bodies, **record}
        print_row(name, bodies, record)
        runs.append(record)
    if not offline_rounds:
        return runs, None
    merged = merge_offline(offline_rounds)
    print(
        f"model alone      {bodies:5s} (same rounds, {merged['threads']} thread): "
        f"{merged['model_seq_per_s']:.1f} seq/s, with tokenizer "
        f"{merged['pipeline_seq_per_s']:.1f} seq/s",
        flush=True,
    )
    return runs, merged


def run_all_systems(
    specs: list[ServerSpec],
    files: dict[str, dict[str, Path]],
    concurrency: list[int],
    plan: dict,
    model_dir: Path,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start every server (idle ones cost nothing), then measure point by point, interleaved;
    at the highest concurrency the model alone (1 thread, as the service) joins the rounds."""
    result: dict[str, Any] = {spec.name: {"runs": []} for spec in specs}
    alongside: dict[str, Any] = {}
    with ExitStack() as stack:
        servers = {spec.name: stack.enter_context(running_server(spec)) for spec in specs}
        for name, server in servers.items():
            result[name]["ready_s"] = round(server.ready_s, 2)
            result[name]["rss_mb_ready"] = round(tree_rss_mb(server.process.pid), 1)
        for bodies, paths in files.items():
            lua = paths["lua"]
            for server in servers.values():  # warm-up, not recorded
                run_wrk(server.url + "/predict", lua, 16, 1.0)
            texts, model = texts_of(paths["json"])
            alone = Offline(model_dir / model, texts, threads=1)
            for connections in concurrency:
                use = alone if connections == max(concurrency) else None
                runs, offline_record = run_point(servers, bodies, lua, connections, plan, use)
                for record in runs:
                    result[record["system"]]["runs"].append(record)
                if offline_record is not None:
                    alongside[bodies] = offline_record
    return result, alongside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="6 s per point instead of 20")
    parser.add_argument("--seconds", type=float, default=None, help="per system and point")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--systems", nargs="+", default=["service", "service-nobatch", "naive-torch", "tfidf-lr"]
    )
    parser.add_argument("--bodies", nargs="+", default=list(BODY_SETS), choices=list(BODY_SETS))
    parser.add_argument("--count", type=int, default=1000, help="distinct bodies per set")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of the service to measure beside this one"
    )
    parser.add_argument(
        "--variant", action="append", default=[], help="extra service: NAME:KEY=VALUE,KEY=VALUE"
    )
    parser.add_argument(
        "--name", default="load", help="result file bench/results/NAME.json (plots: load only)"
    )
    args = parser.parse_args()
    plan = {"seconds": args.seconds or (6.0 if args.quick else 20.0)}
    plan["rounds"] = args.rounds or (2 if args.quick else 4)
    files = {b: write_bodies(args.data_dir, b, args.count, False) for b in args.bodies}
    specs = system_specs(args.model_dir.resolve(), args.data_dir.resolve(), args.baseline)
    payload: dict[str, Any] = {"plan": plan, "load_start": load_average()}
    chosen = [specs[name] for name in args.systems]
    chosen += [variant_spec(v, args.model_dir.resolve(), args.baseline) for v in args.variant]
    payload["systems"], payload["offline_alongside"] = run_all_systems(
        chosen, files, args.concurrency, plan, args.model_dir
    )
    bodies = {b: paths["json"] for b, paths in files.items()}
    payload["offline"] = offline(args.model_dir, bodies, 3.0 if args.quick else 10.0)
    payload["load_end"] = load_average()
    write_json(args.name, payload)
    if args.name != "load":  # a side measurement: the report's plots stay as they are
        return
    from bench.plots import plot_latency, plot_throughput

    plot_throughput(payload)
    plot_latency(payload)


if __name__ == "__main__":
    main()
