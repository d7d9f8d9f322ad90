"""Bulk scoring throughput (`python -m app.bulk`): IMDB reviews and tweets, local and on Ray.

Each run is a whole job as a user runs it: read a gzip'd TSV, score with the shipped bundle,
write a gzip'd CSV. The time includes loading the model (local) or starting the scoring actors
(Ray); a local Ray runtime on this machine is started once, before the timings, as a cluster
would already be up. Ray's workers run at the niceness of this process (not Ray's default of 15
levels lower), so that local and Ray compete alike with whatever else runs here.

    python -m bench.bulk --imdb-rows 2000 --tweet-rows 5000
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, SCRATCH, loaded, write_json

SETS = {"imdb": "imdb/test.tsv.gz", "tweets": "tweeteval/test.tsv.gz"}


def sample(data_dir: Path, name: str, rows: int) -> Path:
    """Every k-th row of the test split (IMDB is sorted by label), as a gzip'd TSV."""
    with gzip.open(data_dir / SETS[name], "rt", encoding="utf-8") as handle:
        header, *lines = handle.readlines()
    step = max(1, len(lines) // rows)
    target = SCRATCH / "bulk" / f"{name}-{rows}.tsv.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", encoding="utf-8") as out:
        out.write(header + "".join(lines[::step][:rows]))
    return target


def measure(source: Path, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    from app.bulk.job import Options, run
    from app.bulk.scorer import ScorerConfig

    options = Options(
        input=source,
        output=SCRATCH / "bulk" / f"out-{source.name.split('.')[0]}-{mode}.csv.gz",
        prefix="pred_",
        mode="overwrite",
        progress=False,
        scorer=ScorerConfig(model="sentiment-en", model_dir=args.model_dir),
        ray="auto" if mode == "ray" else None,
        ray_actors=args.ray_actors,
    )
    record: dict[str, Any] = {"mode": mode, "input": source.name}
    with loaded(record):
        summary = run(options)
    record.update(rows=summary.rows, seconds=round(summary.seconds, 2))
    record["rows_per_s"] = round(summary.rows_per_s, 1)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    data = Path(os.environ.get("SENTIMENT_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--data-dir", type=Path, default=data)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--imdb-rows", type=int, default=2000)
    parser.add_argument("--tweet-rows", type=int, default=5000)
    parser.add_argument("--modes", nargs="+", default=["local", "ray"])
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--ray-actors", type=int, default=2)
    args = parser.parse_args()
    inputs = [
        sample(args.data_dir, "imdb", args.imdb_rows),
        sample(args.data_dir, "tweets", args.tweet_rows),
    ]
    if "ray" in args.modes:
        from app.bulk.ray_runner import start_local

        # Ray runs its workers 15 nice levels below the raylet by default; on this shared
        # machine that starves them, so they run at this process's niceness, as the local run
        os.environ.setdefault("RAY_worker_niceness", "0")
        start_local(num_cpus=args.ray_cpus)
    results = []
    for source in inputs:
        for mode in args.modes:
            started = time.monotonic()
            results.append(measure(source, mode, args))
            print(results[-1], f"({time.monotonic() - started:.0f} s)", flush=True)
    command = "python -m bench.bulk " + " ".join(
        [f"--imdb-rows {args.imdb_rows}", f"--tweet-rows {args.tweet_rows}"]
    )
    write_json("bulk", {"command": command, "ray_cpus": args.ray_cpus, "results": results})


if __name__ == "__main__":
    main()
