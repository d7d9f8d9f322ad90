"""One text at a time through the whole graph and through the cut one whose two LSTM directions
run on two threads (`app.core.direction_split`), by length and on real reviews.

    python -m bench directions [--bundle model/bundles/sentiment-en] [--reviews 300]

Prints, per graph (fp32, int8): milliseconds per text (median and p99 of three interleaved
passes) for IMDB reviews truncated as served, and for the same reviews cut to fixed lengths
(8 to 512 tokens), whole beside cut, and their ratio; writes bench/results/directions.json and
bench/results/directions.png. Run it on a quiet machine: the cut graph uses the second CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DEFAULT_DATA, loaded, read_test_set, write_json
from model import load_bundle
from model.runtime import cpu_session, run_logits, session_options
from model.text import TextEncoder

LENGTHS = (8, 16, 32, 64, 128, 256, 512)
PASSES = 3


def _times(run: Callable[[np.ndarray], object], rows: list[np.ndarray]) -> list[float]:
    spent = []
    for ids in rows:
        started = time.perf_counter()
        run(ids)
        spent.append((time.perf_counter() - started) * 1e3)
    return spent


def _summary(spent: list[float]) -> dict[str, float]:
    ordered = sorted(spent)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "mean_ms": statistics.fmean(ordered),
    }


def compare(graph: Path, rows: list[np.ndarray]) -> dict[str, Any]:
    """Whole and cut graph on the same rows, passes interleaved; both answer alike (checked)."""
    from app.core.direction_split import DirectionSplit

    whole = cpu_session(graph, 1)
    split = DirectionSplit.open(graph, lambda: session_options(1))
    if split is None:
        raise SystemExit(f"{graph}: no pair of LSTM directions to cut")
    runs = {"whole": lambda ids: run_logits(whole, ids), "cut": split.logits}
    for ids in rows[:20]:
        assert np.array_equal(runs["whole"](ids), runs["cut"](ids)), "the cut graph differs"
    spent: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(PASSES):
        for key, run in runs.items():
            spent[key] += _times(run, rows)
    figures = {key: _summary(values) for key, values in spent.items()}
    figures["p50_ratio"] = figures["cut"]["p50_ms"] / figures["whole"]["p50_ms"]
    figures["p99_ratio"] = figures["cut"]["p99_ms"] / figures["whole"]["p99_ms"]
    return figures


def _row(label: str, figures: dict[str, Any]) -> str:
    whole, cut = figures["whole"], figures["cut"]
    return (
        f"{label:>8}: whole p50 {whole['p50_ms']:.3f} / p99 {whole['p99_ms']:.3f} ms, "
        f"cut {cut['p50_ms']:.3f} / {cut['p99_ms']:.3f} ms "
        f"({figures['p50_ratio']:.2f}x / {figures['p99_ratio']:.2f}x)"
    )


def measure_graph(graph: Path, rows: list[list[int]]) -> dict[str, Any]:
    served = [np.array([row], dtype=np.int64) for row in rows]
    result: dict[str, Any] = {"reviews": compare(graph, served), "lengths": {}}
    print(_row("reviews", result["reviews"]), flush=True)
    for length in LENGTHS:
        cut_rows = [ids[:, :length] for ids in served if ids.shape[1] >= length][:200]
        result["lengths"][str(length)] = compare(graph, cut_rows)
        print(_row(f"T={length}", result["lengths"][str(length)]), flush=True)
    return result


def plot(graphs: dict[str, dict[str, Any]]) -> None:
    from bench.plots import _pyplot, _save

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, result in graphs.items():
        lengths = [int(length) for length in result["lengths"]]
        for key, style in (("whole", "-"), ("cut", "--")):
            p50 = [result["lengths"][str(n)][key]["p50_ms"] for n in lengths]
            axis.plot(lengths, p50, style, marker="o", label=f"{name}, {key} graph")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("tokens (one text at a time)")
    axis.set_ylabel("ms per text, median")
    axis.set_title("Two LSTM directions on two threads vs one after the other")
    axis.legend()
    _save(figure, "directions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="model/bundles/sentiment-en")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reviews", type=int, default=300)
    args = parser.parse_args()
    bundle = load_bundle(Path(args.bundle))
    encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
    texts, _ = read_test_set(args.data_dir, "imdb", args.reviews)
    rows = encoder.ids_only(texts)
    record: dict[str, Any] = {"bundle": args.bundle, "reviews": len(rows), "graphs": {}}
    with loaded(record):
        for variant in bundle.manifest.variants:
            print(f"{variant} graph", flush=True)
            record["graphs"][variant] = measure_graph(bundle.model_path(variant), rows)
    write_json("directions", record)
    plot(record["graphs"])


if __name__ == "__main__":
    main()
