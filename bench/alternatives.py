"""Train and measure alternative models side by side with the project's own commands.

Each variant is `python -m training train --config <base> <flags>` followed by `export`; the
accuracy comes from the bundle manifest (ONNX Runtime on the official test splits) and the wall
time from the run. Finished variants are skipped and interrupted ones resumed, so the script can
be stopped and restarted. Prints a table and writes JSON, Markdown and a PNG chart.

    python bench/alternatives.py --base configs/sentiment-en.toml --suite en --out bench/results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SUITES: dict[str, dict[str, list[str]]] = {
    "en": {
        "lstm (shipped recipe)": [],
        "gru": ["--arch", "gru"],
        "vanilla rnn": ["--arch", "rnn"],
        "cnn+lstm": ["--arch", "cnn_lstm"],
        "head-only truncation": ["--head-tokens", "512"],
        "bpe 16k": ["--vocab-size", "16000"],
    },
    # the transfer set's size (training/teacher), with configs/experiments/distill-curve-en.toml:
    # labelled rows alone, with teacher logits on them, then transfer-only texts on top
    "distill-en": {
        "no teacher": ["--teacher-dir", ""],
        "teacher logits on the labelled rows": ["--transfer-rows", "0"],
        "+ 100k transfer texts": ["--transfer-rows", "100000"],
        "+ 319k transfer texts (all)": [],
    },
    "ko": {
        "lstm + char lstm (shipped recipe)": [],
        "gru + char gru": ["--arch", "gru"],
        "token lstm only (no char member)": ["--members", "1", "--char-members", "0"],
        "bpe 8k": ["--vocab-size", "8000"],
    },
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def train_and_export(base: str, flags: list[str], folder: Path) -> float:
    """Returns the wall time of training (seconds); 0 if the bundle already existed."""
    bundle = folder / "bundle"
    if (bundle / "manifest.json").is_file():
        return json.loads((folder / "timing.json").read_text())["train_seconds"]
    started = time.perf_counter()
    run(
        [
            sys.executable,
            "-m",
            "training",
            "train",
            "--config",
            base,
            "--resume",
            "--out-dir",
            str(folder / "run"),
            *flags,
        ]
    )
    seconds = time.perf_counter() - started
    (folder / "timing.json").write_text(json.dumps({"train_seconds": seconds}))
    run(
        [
            sys.executable,
            "-m",
            "training",
            "export",
            "--run",
            str(folder / "run"),
            "--out",
            str(bundle),
            "--no-quantize",
        ]
    )
    return seconds


def collect(folder: Path, seconds: float) -> dict[str, Any]:
    manifest = json.loads((folder / "bundle" / "manifest.json").read_text())
    metrics = manifest["variants"]["fp32"]["metrics"]
    size = (folder / "bundle" / "model.onnx").stat().st_size
    return {
        "accuracy": {name: m["accuracy"] for name, m in metrics.items()},
        "macro_recall": {name: m.get("macro_recall", m["accuracy"]) for name, m in metrics.items()},
        "train_seconds": seconds,
        "model_mb": size / 1e6,
        "arch": manifest["architecture"],
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    sets = sorted({s for r in results.values() for s in r["accuracy"]})
    lines = [
        "| variant | " + " | ".join(sets) + " | train time | model.onnx |",
        "|---|" + "---|" * (len(sets) + 2),
    ]
    for name, r in results.items():
        cells = [f"{100 * r['accuracy'].get(s, float('nan')):.2f}" for s in sets]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {r['train_seconds'] / 60:.1f} min | {r['model_mb']:.1f} MB |"
        )
    return "\n".join(lines)


def chart(results: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({s for r in results.values() for s in r["accuracy"] if s != "validation"})
    names = list(results)
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(names) * len(sets) + 1.5))
    height = 0.8 / max(1, len(sets))
    for k, split in enumerate(sets):
        values = [100 * results[n]["accuracy"].get(split, 0) for n in names]
        positions = [i + k * height for i in range(len(names))]
        axes.barh(positions, values, height=height, label=split)
        for y, v in zip(positions, values, strict=True):
            axes.text(v + 0.1, y, f"{v:.2f}", va="center", fontsize=8)
    axes.set_yticks([i + height * (len(sets) - 1) / 2 for i in range(len(names))], names)
    low = min(100 * r["accuracy"].get(s, 100) for r in results.values() for s in sets)
    axes.set_xlim(max(0, low - 3), 100)
    axes.set_xlabel("accuracy on the official test split (%)")
    axes.set_title(title)
    axes.invert_yaxis()
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="base TOML config")
    parser.add_argument("--suite", required=True, choices=sorted(SUITES))
    parser.add_argument("--work", type=Path, default=Path("runs/alternatives"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs for every variant (default: base's)")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    for name, flags in SUITES[args.suite].items():
        if args.only and name not in args.only:
            continue
        folder = args.work / args.suite / slug(name)
        folder.mkdir(parents=True, exist_ok=True)
        budget = ["--epochs", str(args.epochs)] if args.epochs else []
        results[name] = collect(folder, train_and_export(args.base, flags + budget, folder))
        print(table(results), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"alternatives-{args.suite}"
    Path(f"{stem}.json").write_text(json.dumps(results, indent=2))
    Path(f"{stem}.md").write_text(table(results) + "\n")
    chart(results, Path(f"{stem}.png"), f"alternatives ({args.suite}), same data and budget")
    print(f"wrote {stem}.json, .md and .png")


if __name__ == "__main__":
    main()
