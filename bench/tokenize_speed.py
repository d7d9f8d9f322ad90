"""How long tokenization takes per text, with and without the lean copy of the bundle's tokenizer
(`model.lean_tokenizer`) that `TextEncoder` sends the texts that allow it through.

    python -m bench tokenize [--bundle model/bundles/sentiment-en] [--texts 2000]

Prints, for IMDB reviews and SST-2 sentences (a fixed sample of each test split), microseconds
per text through `TextEncoder` with the lean copy turned off and on, one text at a time and in
batches of 32 (the best of five interleaved passes), the ratio, and the share of texts that took
the lean path; writes bench/results/tokenize.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import DEFAULT_DATA, read_test_set, write_json
from model.bundle import Truncation, load_bundle
from model.text import TextEncoder

# as `python -m app` runs it: the Rust tokenizer's own thread pool off (app/__main__.py)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SETS = ("imdb", "sst2")
BATCH = 32
PASSES = 5


def _seconds(run: Callable[[Sequence[str]], None], texts: list[str]) -> float:
    started = time.perf_counter()
    run(texts)
    return time.perf_counter() - started


def _one_by_one(encoder: TextEncoder) -> Callable[[Sequence[str]], None]:
    def run(items: Sequence[str]) -> None:
        for text in items:
            encoder.encode(text)

    return run


def _in_batches(encoder: TextEncoder) -> Callable[[Sequence[str]], None]:
    def run(items: Sequence[str]) -> None:
        for start in range(0, len(items), BATCH):
            encoder.encode_batch(items[start : start + BATCH])

    return run


def measure(path: Path, truncation: Truncation, texts: list[str]) -> dict[str, float]:
    """Microseconds per text through `TextEncoder` without the lean copy and with it (the
    default), the passes of the two interleaved."""
    lean, full = TextEncoder.from_file(path, truncation), TextEncoder.from_file(path, truncation)
    full.lean = None
    figures = {"lean_share": sum(lean.lean.fits(t) for t in texts) / len(texts) if lean.lean else 0}
    for name, make in (("one", _one_by_one), ("batch32", _in_batches)):
        runs = {"full": make(full), "lean": make(lean)}
        best = {key: float("inf") for key in runs}
        for _ in range(PASSES):
            for key, run in runs.items():
                best[key] = min(best[key], _seconds(run, texts) / len(texts) * 1e6)
        figures |= {f"{key}_{name}_us": value for key, value in best.items()}
        figures[f"{name}_ratio"] = best["lean"] / best["full"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="model/bundles/sentiment-en")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    bundle = load_bundle(Path(args.bundle))
    results: dict[str, dict[str, float]] = {}
    for name in SETS:
        texts, _ = read_test_set(args.data_dir, name, args.texts)
        figures = measure(bundle.tokenizer_path, bundle.manifest.truncation, texts)
        results[name] = {k: round(v, 3) for k, v in figures.items()}
        print(name, json.dumps(results[name]), flush=True)
    write_json("tokenize", {"bundle": args.bundle, "texts": args.texts, "sets": results})


if __name__ == "__main__":
    main()
