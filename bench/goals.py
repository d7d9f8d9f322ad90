"""The issue's targets, checked against the JSON of the last run: each goal with its figure and
whether it is met. Prints a Markdown table and writes goals.json and goals.md.

    python -m bench goals [--load NAME]

`--load` names the `bench load --name NAME` result to read (default `load`, what `bench all`
writes); the speed issue's ratios are `python -m bench serving-goals`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench.common import RESULTS, read_json, write_json

Goal = dict[str, Any]


def runs_of(load: dict, system: str, bodies: str) -> list[dict]:
    return [r for r in load["systems"].get(system, {}).get("runs", []) if r["bodies"] == bodies]


def at(load: dict, system: str, bodies: str, concurrency: int) -> dict | None:
    runs = [r for r in runs_of(load, system, bodies) if r["concurrency"] == concurrency]
    return runs[0] if runs else None


def goal(name: str, target: str, measured: str, met: bool | None) -> Goal:
    return {"goal": name, "target": target, "measured": measured, "met": met}


def vs_naive(load: dict, naive_name: str = "naive-torch", label: str = "tutorial") -> Goal:
    """At 64 connections, where both run in the same interleaved rounds."""
    name = f"service vs naive PyTorch ({label}), IMDB at 64 connections"
    ours, naive = at(load, "service", "imdb", 64), at(load, naive_name, "imdb", 64)
    if not (ours and naive):
        return goal(name, ">= 3x req/s, lower p99", "not run", None)
    ratio = ours["rps"] / naive["rps"]
    p99, naive_p99 = ours["latency_ms"]["p99"], naive["latency_ms"]["p99"]
    measured = (
        f"{ratio:.2f}x ({ours['rps']:.0f} vs {naive['rps']:.0f} req/s); "
        f"p99 {p99:.0f} vs {naive_p99:.0f} ms"
    )
    return goal(name, ">= 3x req/s, lower p99", measured, ratio >= 3 and p99 < naive_p99)


def efficiency(load: dict) -> Goal:
    """Service req/s at 64 connections over the model alone on the same texts, judged against
    the best model-alone figure: the run alongside the load (1 ORT thread, same rounds) or the
    offline runs after it (1 and 2 threads), since the service may use every CPU it has."""
    ours = at(load, "service", "imdb", 64)
    alone = load.get("offline_alongside", {}).get("imdb")
    if not (ours and alone):
        return goal("serving efficiency, IMDB", ">= 0.7", "not run", None)
    model, pipeline = alone["model_seq_per_s"], alone["pipeline_seq_per_s"]
    later = [r["model_seq_per_s"] for r in load.get("offline", {}).get("imdb", [])]
    best = max([model, *later])
    ratio = ours["rps"] / best
    measured = (
        f"{ratio:.2f} ({ours['rps']:.0f} req/s / {best:.0f} seq/s, the best model-alone run); "
        f"{ours['rps'] / model:.2f} of the model alone in the same rounds ({model:.0f} seq/s, "
        f"1 thread), {ours['rps'] / pipeline:.2f} of tokenizer + model"
    )
    return goal("serving efficiency, IMDB", ">= 0.7", measured, ratio >= 0.7)


def batching(load: dict) -> Goal:
    on, off = at(load, "service", "sst2", 64), at(load, "service-nobatch", "sst2", 64)
    if not (on and off):
        return goal(
            "short texts, batching on/off at 64", ">= 2x and >= 3,000 req/s", "not run", None
        )
    ratio = on["rps"] / off["rps"]
    measured = f"{ratio:.2f}x ({on['rps']:.0f} vs {off['rps']:.0f} req/s)"
    return goal(
        "short texts, batching on/off at 64",
        ">= 2x and >= 3,000 req/s",
        measured,
        ratio >= 2 and on["rps"] >= 3000,
    )


def latency(load: dict) -> Goal:
    one = at(load, "service", "imdb", 1)
    if not one:
        return goal("latency at concurrency 1, IMDB", "p50 <= 5 ms, p99 <= 10 ms", "not run", None)
    p50, p99 = one["latency_ms"]["p50"], one["latency_ms"]["p99"]
    return goal(
        "latency at concurrency 1, IMDB",
        "p50 <= 5 ms, p99 <= 10 ms",
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
        p50 <= 5 and p99 <= 10,
    )


def peak(speed: dict | None) -> Goal:
    fractions = (speed or {}).get("summary", {}).get("fraction_of_peak", {})
    if not fractions:
        return goal("model vs GEMM peak (fp32)", ">= 60%", "not run", None)
    threads, best = max(fractions.items(), key=lambda kv: kv[1]["fraction"])
    where = best["at"]
    measured = (
        f"{100 * best['fraction']:.0f}% ({best['gflops']:.0f} of {best['peak_gflops']:.0f}"
        f" GFLOP/s, {threads} thread(s), B={where['batch']} T={where['length']})"
    )
    return goal("model vs GEMM peak (fp32)", ">= 60%", measured, best["fraction"] >= 0.6)


def memory(load: dict) -> Goal:
    service = load["systems"].get("service")
    if not service:
        return goal("memory and start", "RSS <= 400 MB, ready <= 3 s", "not run", None)
    rss = max(r["rss_mb_peak"] for r in service["runs"])
    ready = service["ready_s"]
    return goal(
        "memory and start",
        "RSS <= 400 MB under load, ready <= 3 s",
        f"RSS {rss:.0f} MB, ready {ready:.2f} s",
        rss <= 400 and ready <= 3,
    )


def accuracy_for_price(load: dict, accuracy: dict | None) -> Goal:
    systems = (accuracy or {}).get("systems", {})
    ours = systems.get("lstm fp32", {}).get("imdb")
    others = {
        n: r["imdb"]["accuracy"] for n, r in systems.items() if "imdb" in r and "lstm" not in n
    }
    served, tfidf = at(load, "service", "imdb", 64), at(load, "tfidf-lr", "imdb", 64)
    if not (ours and others and served and tfidf):
        return goal(
            "accuracy for its price", "most accurate; >= 0.4x TF-IDF req/s", "not run", None
        )
    best_other = max(others, key=others.__getitem__)
    ratio = served["rps"] / tfidf["rps"]
    measured = (
        f"IMDB {100 * ours['accuracy']:.2f} vs best baseline {best_other} "
        f"{100 * others[best_other]:.2f}; {ratio:.2f}x TF-IDF served req/s"
    )
    met = ours["accuracy"] > others[best_other] and ratio >= 0.4
    return goal(
        "accuracy for its price", "most accurate on IMDB; >= 0.4x TF-IDF req/s", measured, met
    )


def check(load_name: str = "load") -> list[Goal]:
    load, speed, accuracy = read_json(load_name), read_json("model_speed"), read_json("accuracy")
    if load is None:
        return [peak(speed)]
    checks: list[Callable[[], Goal]] = [
        lambda: vs_naive(load),
        lambda: vs_naive(load, "naive-torch-1t", "torch at 1 thread"),
        lambda: efficiency(load),
        lambda: batching(load),
        lambda: latency(load),
        lambda: peak(speed),
        lambda: memory(load),
        lambda: accuracy_for_price(load, accuracy),
    ]
    return [c() for c in checks]


def table(goals: list[Goal]) -> str:
    marks = {True: "met", False: "NOT met", None: "not run"}
    lines = ["| goal | target | measured | |", "|---|---|---|---|"]
    lines += [
        f"| {g['goal']} | {g['target']} | {g['measured']} | {marks[g['met']]} |" for g in goals
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", default="load", help="result name of a `bench load` run")
    goals = check(parser.parse_args().load)
    text = table(goals)
    print(text)
    (RESULTS / "goals.md").write_text(text + "\n")
    write_json("goals", {"goals": goals})


if __name__ == "__main__":
    main()
