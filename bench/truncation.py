"""How to cut long reviews: the shipped English model on the IMDB test set with its long reviews
cut at 128, 256 or 512 tokens, keeping the head only, the tail only, or a head and a tail (the
shipped rule: 128 head tokens at 512). The same weights throughout, so only the cut differs;
docs/training.md also has a model trained with head-only cuts.

    python -m bench truncation [--quick] [--bundle model/bundles/sentiment-en]

With `--curve`, the cost side: the served path (cascade included) on the IMDB validation reviews
that training held out (carved from the config's IMDB file as training carved them), at max
lengths from 128 to 512 tokens with the shipped head share (a quarter), accuracy beside reviews
per second on one thread. A length is chosen on validation, never on the test split.

    python -m bench truncation --curve [--config configs/sentiment-en.toml]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, REPO, RESULTS, read_test_set
from model.bundle import Truncation

# (max_length, head_tokens): head_tokens = max_length keeps the head only, 0 the tail only
CUTS = [(length, head) for length in (128, 256, 512) for head in (length, length // 4, 0)]

Predict = Callable[[list[str]], list[int]]
BATCH = 32


def lstm_predictor(bundle_dir: Path, variant: str, truncation: Truncation | None = None) -> Predict:
    """Tokenize and run in batches of 32 exactly as the service's batch worker does; with
    `truncation`, long texts are cut that way instead of the bundle's. The served path: the
    bundle's cascade where it has one."""
    from app.core.registry import LoadPlan, load_model
    from model.text import TextEncoder

    worker = load_model(bundle_dir, LoadPlan(variant))
    manifest = worker.bundle.manifest
    encoder = TextEncoder.from_file(worker.bundle.tokenizer_path, truncation or manifest.truncation)
    # the test sets here are binary (0 = negative, 1 = positive): a 3-label bundle is scored on
    # the two labels a binary set maps onto, P(positive) against P(negative)
    binary = manifest.binary_labels or manifest.labels[:2]
    columns = [manifest.labels.index(label) for label in binary]

    def predict(texts: list[str]) -> list[int]:
        labels = []
        for start in range(0, len(texts), BATCH):
            rows = [e.ids for e in encoder.encode_batch(texts[start : start + BATCH])]
            probs = worker.scorer.score(rows, [False] * len(rows)).probabilities
            labels += [int(p[columns[1]] > p[columns[0]]) for p in probs]
        return labels

    return predict


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


CURVE_LENGTHS = (128, 192, 256, 320, 384, 448, 512)


def imdb_validation(config_path: Path) -> tuple[list[str], list[int]]:
    """The IMDB reviews training held out, labels 0 = negative, 1 = positive."""
    from training.config import build_config
    from training.prepare import carve

    config = build_config(str(config_path), {})
    entry = next(e for e in config.train_files if e.file.startswith("imdb/"))
    held = carve(config, entry).validation
    names = list(config.labels)
    return held.texts, [int(names[label] == "positive") for label in held.labels]


def curve(bundle: Path, texts: list[str], labels: list[int]) -> list[dict[str, Any]]:
    points = []
    for number, length in enumerate(CURVE_LENGTHS, 1):
        predict = lstm_predictor(bundle, "fp32", Truncation(length, length // 4))
        predict(texts[:64])  # warm-up
        started = time.perf_counter()
        predicted = predict(texts)
        seconds = time.perf_counter() - started
        correct = sum(p == y for p, y in zip(predicted, labels, strict=True))
        point = {
            "max_length": length,
            "head_tokens": length // 4,
            "accuracy": correct / len(labels),
            "reviews_per_s": len(texts) / seconds,
            "n": len(labels),
        }
        points.append(point)
        print(
            f"[{number}/{len(CURVE_LENGTHS)}] {length:4d} tokens: validation accuracy "
            f"{100 * point['accuracy']:.2f}, {point['reviews_per_s']:.0f} reviews/s "
            "(served path, 1 ONNX Runtime thread, tokenizer included)",
            flush=True,
        )
    return points


def curve_chart(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    speed = [p["reviews_per_s"] for p in points]
    axes.plot(speed, [100 * p["accuracy"] for p in points], marker="o")
    for p, x in zip(points, speed, strict=True):
        axes.annotate(str(p["max_length"]), (x, 100 * p["accuracy"]), textcoords="offset points",
                      xytext=(4, 4))  # fmt: skip
    axes.set_xlabel("reviews per second (served path, 1 ONNX Runtime thread, tokenizer included)")
    axes.set_ylabel("IMDB validation accuracy (%)")
    axes.set_title("truncation length: accuracy against cost (sentiment-en)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run_curve(bundle: Path, config: Path, out: Path) -> None:
    texts, labels = imdb_validation(config)
    points = curve(bundle, texts, labels)
    out.mkdir(parents=True, exist_ok=True)
    held = "imdb validation (held out by training)"
    payload = {"bundle": str(bundle), "set": held, "points": points}
    (out / "truncation-curve-en.json").write_text(json.dumps(payload, indent=2))
    curve_chart(points, out / "truncation-curve-en.png")
    print(f"wrote {out / 'truncation-curve-en.json'} and .png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLES / "sentiment-en")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="2,000 reviews instead of 25,000")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--curve", action="store_true", help="accuracy against cost, validation")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "sentiment-en.toml")
    args = parser.parse_args()
    if args.curve:
        run_curve(args.bundle, args.config, args.out)
        return
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
