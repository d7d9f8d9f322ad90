"""The whole benchmark suite in one command, each part a separate process (so one part's threads
and memory never colour the next): model speed, quality (every system's scores and offline
speed, one thread), service under load with offline rates, then the charts and the goals table.
On a quiet machine `--quick` takes ~5 minutes; the full run (20 s per system and point) ~25
minutes.

    python -m bench all [--quick] [--data-dir ../shared/data] [--model-dir model/bundles]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def step(name: str, *args: str) -> float:
    """Run `python -m bench <name> args` from the repository root; returns its seconds."""
    command = [sys.executable, "-m", "bench", name, *args]
    print(f"\n$ {' '.join(command[1:])}  (load {os.getloadavg()[0]:.2f})", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    return time.perf_counter() - started


def quality_of(model_dir: Path, language: str) -> list[str]:
    """bench quality's options for a shipped bundle: the bundle and its training config."""
    name = f"sentiment-{language}"
    return ["--bundle", str(model_dir / name), "--config", str(REPO / "configs" / f"{name}.toml")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model-dir", type=Path, default=REPO / "model" / "bundles")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of the service to measure beside this one"
    )
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    data, models = ["--data-dir", str(args.data_dir)], ["--model-dir", str(args.model_dir)]
    en = ["--bundle", str(args.model_dir / "sentiment-en")]
    systems = ["service", "service-nobatch", "naive-torch", "naive-torch-1t", "tfidf-lr"]
    systems += ["service-int8"]
    if args.baseline:
        systems += ["baseline", "baseline-nobatch"]
    baseline = ["--baseline", str(args.baseline)] if args.baseline else []
    spent = {
        "model_speed": step("model-speed", *en, *quick),
        "quality": sum(
            step("quality", *data, *quick, "--threads", "1", *quality_of(args.model_dir, lang))
            for lang in ("en", "ko")
        ),
        "load": step("load", *data, *models, *quick, "--systems", *systems, *baseline),
    }
    step("plots")
    step("goals")
    step("report")
    print("\nminutes per part:", {k: round(v / 60, 1) for k, v in spent.items()})


if __name__ == "__main__":
    main()
