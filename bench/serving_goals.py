"""The speed issue's targets (serve close to the machine's limit), checked against one load run:
each figure from the same interleaved rounds, with the machine's load beside it.

    python -m bench serving-goals --load load-lean

`--load` names a result of `python -m bench load --name NAME` that ran the service (any systems
whose name starts with `service`: one process, `service-2proc-int8`, ...), `tfidf-lr`, and the
offline model runs. Each goal takes the best service system, and says which it was. Prints a
Markdown table and writes bench/results/serving-goals-<NAME>.json and .md.
"""

from __future__ import annotations

import argparse

from bench.common import RESULTS, read_json, write_json
from bench.goals import Goal, at, goal, table


def _best_service(load: dict, bodies: str, concurrency: int, key: str) -> tuple[str, dict] | None:
    """The service system with the highest req/s (key 'rps') or lowest p50 (key 'p50')."""
    found = [
        (name, run)
        for name in load["systems"]
        if name.startswith("service") and (run := at(load, name, bodies, concurrency))
    ]
    if not found:
        return None
    if key == "rps":
        return max(found, key=lambda item: item[1]["rps"])
    return min(found, key=lambda item: item[1]["latency_ms"]["p50"])


def _loads(run: dict) -> str:
    return f"load {run['load_before']}->{run['load_after']}"


def short_texts(load: dict) -> Goal:
    name = "short texts (SST-2, 64 connections): service / TF-IDF + LR on the same stack"
    best, tfidf = _best_service(load, "sst2", 64, "rps"), at(load, "tfidf-lr", "sst2", 64)
    if not (best and tfidf):
        return goal(name, ">= 0.85x", "not run", None)
    system, run = best
    ratio = run["rps"] / tfidf["rps"]
    measured = (
        f"{ratio:.2f}x ({system} {run['rps']:.0f} vs {tfidf['rps']:.0f} req/s, "
        f"TF-IDF in one process; {_loads(run)})"
    )
    two = at(load, "tfidf-lr-2proc", "sst2", 64)
    if two is not None:
        measured += f"; {run['rps'] / two['rps']:.2f}x of TF-IDF in two processes"
    return goal(name, ">= 0.85x", measured, ratio >= 0.85)


def reviews(load: dict) -> Goal:
    name = "IMDB reviews (64 connections): service req/s / full graph offline at 2 threads"
    best = _best_service(load, "imdb", 64, "rps")
    offline = [r for r in load.get("offline", {}).get("imdb", []) if r["threads"] == 2]
    if not (best and offline):
        return goal(name, ">= 1.2x", "not run", None)
    system, run = best
    model = offline[0]["model_seq_per_s"]
    ratio = run["rps"] / model
    measured = f"{ratio:.2f}x ({system} {run['rps']:.0f} req/s / {model:.0f} seq/s; {_loads(run)})"
    return goal(name, ">= 1.2x", measured, ratio >= 1.2)


def one_review(load: dict) -> Goal:
    name = "one IMDB review at a time"
    best = _best_service(load, "imdb", 1, "p50")
    if not best:
        return goal(name, "p50 <= 2.5 ms, p99 <= 6 ms", "not run", None)
    system, run = best
    p50, p99 = run["latency_ms"]["p50"], run["latency_ms"]["p99"]
    measured = f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({system}; {_loads(run)})"
    return goal(name, "p50 <= 2.5 ms, p99 <= 6 ms", measured, p50 <= 2.5 and p99 <= 6)


def one_caller(load: dict) -> Goal:
    """The same configuration on both sides: `service` against `baseline`, the `--baseline`
    checkout (the issue's reference is 7b40f33, before the request-path redesign)."""
    name = "short texts at one caller: service / the --baseline checkout, both one process"
    ours, base = at(load, "service", "sst2", 1), at(load, "baseline", "sst2", 1)
    if not (ours and base):
        return goal(name, ">= 1.0x (run with --baseline)", "not run", None)
    ratio = ours["rps"] / base["rps"]
    measured = f"{ratio:.2f}x ({ours['rps']:.0f} vs {base['rps']:.0f} req/s)"
    return goal(name, ">= 1.0x", measured, ratio >= 1.0)


def check(load: dict) -> list[Goal]:
    return [short_texts(load), reviews(load), one_caller(load), one_review(load)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", default="load", help="result name of a `bench load` run")
    args = parser.parse_args()
    load = read_json(args.load)
    if load is None:
        raise SystemExit(f"{RESULTS / args.load}.json not found: run `python -m bench load` first")
    text = table(check(load))
    print(text)
    (RESULTS / f"serving-goals-{args.load}.md").write_text(text + "\n")
    write_json(f"serving-goals-{args.load}", {"load": args.load, "goals": check(load)})


if __name__ == "__main__":
    main()
