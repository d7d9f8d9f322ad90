"""How to cut long reviews: the shipped English model on the IMDB test set with its long reviews
cut at 128, 256 or 512 tokens, keeping the head only, the tail only, or a head and a tail (the
shipped rule: 128 head tokens at 512). The same weights throughout, so only the cut differs;
docs/training.md also has a model trained with head-only cuts.

    python -m bench truncation [--quick] [--bundle model/bundles/sentiment-en]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.accuracy import lstm_predictor
from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, read_test_set
from model.bundle import Truncation

# (max_length, head_tokens): head_tokens = max_length keeps the head only, 0 the tail only
CUTS = [(length, head) for length in (128, 256, 512) for head in (length, length // 4, 0)]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"


def rule(length: int, head: int) -> str:
    if head == length:
        return "head only"
    return "tail only" if head == 0 else f"head {head} + tail {length - head}"


def measure(bundle: Path, texts: list[str], labels: list[int]) -> list[dict[str, Any]]:
    rows = []
    for number, (length, head) in enumerate(CUTS, 1):
        started = time.perf_counter()
        predict = lstm_predictor(bundle, "fp32", Truncation(length, head))
        predicted = predict(texts)
        correct = sum(p == y for p, y in zip(predicted, labels, strict=True))
        rows.append(
            {
                "max_length": length,
                "head_tokens": head,
                "rule": rule(length, head),
                "accuracy": correct / len(labels),
                "n": len(labels),
            }
        )
        print(
            f"[{number}/{len(CUTS)}] {length:4d} tokens, {rule(length, head):22s} "
            f"accuracy {100 * correct / len(labels):.2f}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return rows


def share_cut(bundle: Path, texts: list[str]) -> dict[int, float]:
    """Fraction of the texts longer than each max_length (in the bundle's tokens)."""
    from model import load_bundle
    from model.text import TextEncoder

    loaded = load_bundle(bundle)
    encoder = TextEncoder.from_file(loaded.tokenizer_path, loaded.manifest.truncation)
    lengths = [e.full_length for e in encoder.encode_batch(texts)]
    return {n: sum(t > n for t in lengths) / len(lengths) for n in (128, 256, 512)}


def table(rows: list[dict[str, Any]], cut: dict[int, float]) -> str:
    lines = ["| max tokens | reviews cut | rule | IMDB test accuracy |", "|---|---|---|---|"]
    for r in rows:
        share = f"{100 * cut[r['max_length']]:.0f}%"
        lines.append(f"| {r['max_length']} | {share} | {r['rule']} | {100 * r['accuracy']:.2f} |")
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name in ("head only", "tail only", "head + tail"):
        picked = [
            r for r in rows if (r["rule"] == name) or (name == "head + tail" and "+" in r["rule"])
        ]
        axes.plot(
            [r["max_length"] for r in picked],
            [100 * r["accuracy"] for r in picked],
            marker="o",
            label=name,
        )
    axes.set_xscale("log", base=2)
    axes.set_xticks([128, 256, 512], ["128", "256", "512"])
    axes.set_xlabel("max tokens per review")
    axes.set_ylabel("IMDB test accuracy (%)")
    axes.set_title("cutting long reviews (same weights, sentiment-en)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLES / "sentiment-en")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="2,000 reviews instead of 25,000")
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args()
    texts, labels = read_test_set(args.data_dir, "imdb", 2000 if args.quick else None)
    cut = share_cut(args.bundle, texts)
    rows = measure(args.bundle, texts, labels)
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"bundle": str(args.bundle), "share_cut": cut, "rows": rows}
    (args.out / "truncation-en.json").write_text(json.dumps(payload, indent=2))
    (args.out / "truncation-en.md").write_text(table(rows, cut) + "\n")
    chart(rows, args.out / "truncation-en.png")
    print(table(rows, cut))


if __name__ == "__main__":
    main()
