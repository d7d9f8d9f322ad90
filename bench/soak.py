"""Soak: the service under moderate mixed load for a bounded time, memory and latency sampled.

Runs `python -m app` with both shipped models, then `wrk` in back-to-back segments (paced by a
Lua delay, IMDB reviews and NSMC/SST-2 short texts mixed) and records per segment: requests/s,
latency percentiles, errors, and the server's resident memory. A least-squares line through the
second half (after warm-up) gives the trends; growth would show as a positive slope. Prints a
table and writes JSON + PNG under bench/results.

    python -m bench soak --minutes 10          # the figures in docs/reliability.md
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
from bench.common import DEFAULT_DATA, RESULTS, SCRATCH, load_average, read_test_set
from bench.servers.launch import ServerSpec, running_server, tree_rss_mb
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


def soak(minutes: float, segment_s: float, connections: int, data_dir: Path) -> dict[str, Any]:
    script = mixed_script(data_dir, 300)
    spec = ServerSpec("soak", [sys.executable, "-m", "app"], {"SENTIMENT_ACCESS_LOG": "false"})
    samples: list[dict[str, Any]] = []
    with running_server(spec) as server:
        started = time.monotonic()
        while time.monotonic() - started < minutes * 60:
            result = run_wrk(server.url, script, connections, segment_s)
            sample = {
                "t_s": round(time.monotonic() - started, 1),
                "rss_mb": round(tree_rss_mb(server.process.pid), 1),
                "load": load_average(),
                **result.as_dict(),
            }
            samples.append(sample)
            print(
                f"{sample['t_s']:7.1f} s  {sample['rps']:7.1f} req/s  "
                f"p50 {result.latency_ms['p50']:6.2f} ms  p99 {result.latency_ms['p99']:7.2f} ms  "
                f"errors {sum(result.errors.values())}  rss {sample['rss_mb']} MB",
                flush=True,
            )
    return summarise(samples, connections, server.ready_s)


def summarise(samples: list[dict[str, Any]], connections: int, ready_s: float) -> dict[str, Any]:
    late = samples[len(samples) // 2 :]
    times = [s["t_s"] for s in late]
    return {
        "connections": connections,
        "pace_ms": PACE_MS,
        "ready_s": ready_s,
        "requests": sum(s["requests"] for s in samples),
        "errors": sum(sum(s["errors"].values()) for s in samples),
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
    latency.legend()
    figure.suptitle(f"soak: {summary['requests']:,} requests, {summary['errors']} errors")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--segment-seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    summary = soak(args.minutes, args.segment_seconds, args.connections, args.data_dir)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(summary, indent=2))
    plot(summary, RESULTS / "soak.png")
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
