"""Soak: the service under moderate mixed load for a bounded time, memory and latency sampled.

Runs `python -m app` with both shipped models, then `wrk` in back-to-back segments (paced by a
Lua delay, IMDB reviews and NSMC/SST-2 short texts mixed) and records per segment: requests/s,
latency percentiles, errors, and the server's resident memory. A least-squares line through the
second half (after warm-up) gives the trends; growth would show as a positive slope. Prints a
table and writes JSON + PNG under bench/results.

With `--swap-every M`, model control is on and a repository load of a new version of one model
(the two in turn) runs mid-way through every M-minute period while the load goes on
(bench/swaps.py); the summary then also has one entry per period between swaps.

    python -m bench soak --minutes 10                                # docs/reliability.md
    python -m bench soak --minutes 30 --swap-every 5 --name soak-swap  # six swaps under load
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.bodies import request_bodies
from bench.common import (
    DEFAULT_BUNDLES,
    DEFAULT_DATA,
    RESULTS,
    SCRATCH,
    load_average,
    read_test_set,
)
from bench.servers.launch import ServerSpec, free_port, running_server, tree_rss_mb
from bench.swaps import Swapper, control_env, copy_bundles, new_admin_key, swap_times
from bench.wrk import lua_script, run_wrk

PACE_MS = 5  # each connection waits this long between requests: moderate, not saturating


def mixed_script(data_dir: Path, count: int) -> Path:
    """A wrk script rotating English reviews, SST-2 sentences and Korean reviews."""
    bodies: list[str] = []
    for name in ("imdb", "sst2", "nsmc"):
        texts, _ = read_test_set(data_dir, name, count)
        model = "sentiment-ko" if name == "nsmc" else "sentiment-en"
        bodies += request_bodies(texts, model)
    paced = lua_script(bodies) + f"\nfunction delay()\n  return {PACE_MS}\nend\n"
    path = SCRATCH / "soak.lua"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path.write_text(paced)
    return path


def trend(xs: list[float], ys: list[float]) -> float:
    """Slope per minute of a least-squares line through the points (x in seconds)."""
    if len(xs) < 3:
        return 0.0
    slope, _ = np.polyfit(np.asarray(xs) / 60.0, np.asarray(ys), 1)
    return float(slope)


def soak(
    minutes: float,
    segment_s: float,
    connections: int,
    data_dir: Path,
    swap_every: float = 0.0,
) -> dict[str, Any]:
    script = mixed_script(data_dir, 300)
    env = {"SENTIMENT_ACCESS_LOG": "false", "SENTIMENT_GRPC_PORT": str(free_port())}
    admin_key = new_admin_key()
    model_dir = DEFAULT_BUNDLES
    if swap_every > 0:
        model_dir = copy_bundles(DEFAULT_BUNDLES, SCRATCH / "soak-models")
        env |= control_env(model_dir, admin_key)
    spec = ServerSpec("soak", [sys.executable, "-m", "app"], env)
    samples: list[dict[str, Any]] = []
    with running_server(spec) as server:
        swapper = Swapper(
            server.url,
            model_dir,
            ["sentiment-en", "sentiment-ko"],
            admin_key,
            swap_times(minutes, swap_every),
        )
        with swapper:
            started = swapper.started
            while time.monotonic() - started < minutes * 60:
                samples.append(segment(server, script, connections, segment_s, started))
    return summarise(samples, connections, server.ready_s, swapper.records)


def segment(
    server: Any, script: Path, connections: int, seconds: float, started: float
) -> dict[str, Any]:
    result = run_wrk(server.url, script, connections, seconds)
    sample = {
        "t_s": round(time.monotonic() - started, 1),
        "rss_mb": round(tree_rss_mb(server.process.pid), 1),
        "load": load_average(),
        **result.as_dict(),
    }
    print(
        f"{sample['t_s']:7.1f} s  {sample['rps']:7.1f} req/s  "
        f"p50 {result.latency_ms['p50']:6.2f} ms  p99 {result.latency_ms['p99']:7.2f} ms  "
        f"errors {sum(result.errors.values())}  rss {sample['rss_mb']} MB  load {sample['load']}",
        flush=True,
    )
    return sample


def errors_of(sample: dict[str, Any]) -> int:
    return sum(sample["errors"].values())


def periods(samples: list[dict[str, Any]], swaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The segments between swaps (a segment belongs to the period it ended in): requests,
    errors, median p50, median and worst p99, RSS at its end."""
    bounds = [s["t_s"] for s in swaps]
    groups: list[list[dict[str, Any]]] = [[] for _ in range(len(bounds) + 1)]
    for sample in samples:
        groups[sum(1 for b in bounds if b < sample["t_s"])].append(sample)
    out = []
    for index, group in enumerate(groups):
        if not group:
            continue
        p99 = [s["latency_ms"]["p99"] for s in group]
        out.append(
            {
                "after_swap": index,
                "until_s": group[-1]["t_s"],
                "requests": sum(s["requests"] for s in group),
                "errors": sum(errors_of(s) for s in group),
                "p50_ms_median": round(
                    float(np.median([s["latency_ms"]["p50"] for s in group])), 2
                ),
                "p99_ms_median": round(float(np.median(p99)), 2),
                "p99_ms_max": round(max(p99), 2),
                "rss_mb_end": group[-1]["rss_mb"],
            }
        )
    return out


def summarise(
    samples: list[dict[str, Any]],
    connections: int,
    ready_s: float,
    swaps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    swaps = swaps or []
    late = samples[len(samples) // 2 :]
    times = [s["t_s"] for s in late]
    return {
        "connections": connections,
        "pace_ms": PACE_MS,
        "ready_s": ready_s,
        "minutes": round(samples[-1]["t_s"] / 60, 2),
        "requests": sum(s["requests"] for s in samples),
        "errors": sum(errors_of(s) for s in samples),
        "swaps": len(swaps),
        "swaps_failed": sum(1 for s in swaps if s["status"] != 200),
        "load": {"first": samples[0]["load"], "max": max(s["load"] for s in samples)},
        "rss_mb": {
            "first": samples[0]["rss_mb"],
            "last": samples[-1]["rss_mb"],
            "max": max(s["rss_mb"] for s in samples),
            "slope_mb_per_min_second_half": trend(times, [s["rss_mb"] for s in late]),
        },
        "p99_ms": {
            "first": samples[0]["latency_ms"]["p99"],
            "last": samples[-1]["latency_ms"]["p99"],
            "slope_ms_per_min_second_half": trend(times, [s["latency_ms"]["p99"] for s in late]),
        },
        "swap_log": swaps,
        "periods": periods(samples, swaps),
        "samples": samples,
    }


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = summary["samples"]
    minutes = [s["t_s"] / 60 for s in samples]
    figure, (memory, latency) = plt.subplots(1, 2, figsize=(11, 4))
    memory.plot(minutes, [s["rss_mb"] for s in samples], marker="o")
    memory.set_xlabel("minutes")
    memory.set_ylabel("server RSS (MB)")
    memory.set_ylim(bottom=0)
    for key in ("p50", "p90", "p99"):
        latency.plot(minutes, [s["latency_ms"][key] for s in samples], marker="o", label=key)
    latency.set_xlabel("minutes")
    latency.set_ylabel("latency (ms)")
    for swap in summary.get("swap_log", []):
        for axes in (memory, latency):
            axes.axvline(swap["t_s"] / 60, color="grey", linestyle=":", linewidth=1)
    latency.legend()
    swapped = f", {summary['swaps']} model swaps (dotted)" if summary.get("swaps") else ""
    figure.suptitle(f"soak: {summary['requests']:,} requests, {summary['errors']} errors{swapped}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--segment-seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--swap-every", type=float, default=0.0, help="minutes between model loads (0 = none)"
    )
    parser.add_argument("--name", default="soak", help="result files bench/results/NAME.*")
    args = parser.parse_args()
    summary = soak(
        args.minutes, args.segment_seconds, args.connections, args.data_dir, args.swap_every
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=2))
    plot(summary, RESULTS / f"{args.name}.png")
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
