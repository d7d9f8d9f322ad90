"""Accuracy and offline speed of every system on the official test splits: the shipped model
(ONNX Runtime fp32 and int8, one thread, batches of 32 in file order with the service's length
buckets), TF-IDF + LR trained on the same training file, and VADER (English only).

    python -m bench accuracy [--quick] [--data-dir ../shared/data] [--model-dir model/bundles]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.baselines import Vader, fitted_tfidf
from bench.common import (
    DEFAULT_BUNDLES,
    DEFAULT_DATA,
    TEST_SETS,
    load_average,
    loaded,
    read_test_set,
    write_json,
)
from model.bundle import Truncation

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


def tfidf_predictor(model: str, data_dir: Path) -> Predict:
    pipeline = fitted_tfidf(model, data_dir)

    def predict(texts: list[str]) -> list[int]:
        chunks = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        return [int(label) for chunk in chunks for label in pipeline.predict(chunk)]

    return predict


def systems_for(model: str, model_dir: Path, data_dir: Path) -> dict[str, Predict]:
    """Every system that answers the test sets of `model`'s language."""
    bundle = model_dir / model
    found: dict[str, Predict] = {f"lstm fp32 ({model})": lstm_predictor(bundle, "fp32")}
    if (bundle / "model.int8.onnx").is_file():
        found[f"lstm int8 ({model})"] = lstm_predictor(bundle, "int8")
    found["tf-idf + lr"] = tfidf_predictor(model, data_dir)
    if model == "sentiment-en":
        found["vader"] = Vader().predict
    return found


def evaluate(predict: Predict, texts: list[str], labels: list[int]) -> dict[str, Any]:
    record: dict[str, Any] = {"n": len(texts)}
    with loaded(record):
        started = time.perf_counter()
        predicted = predict(texts)
        seconds = time.perf_counter() - started
    record["accuracy"] = sum(p == y for p, y in zip(predicted, labels, strict=True)) / len(labels)
    record["texts_per_s"] = len(texts) / seconds
    return record


def run(model_dir: Path, data_dir: Path, limit: int | None) -> dict[str, dict[str, Any]]:
    """{system: {test set: {accuracy, texts_per_s, n, load}}}; one thread throughout."""
    from threadpoolctl import threadpool_limits

    results: dict[str, dict[str, Any]] = {}
    with threadpool_limits(1):
        for model in ("sentiment-en", "sentiment-ko"):
            if not (model_dir / model).is_dir():
                print(f"no bundle {model_dir / model}: its test sets are skipped")
                continue
            sets = [s for s in TEST_SETS.values() if s.model == model]
            for name, predict in systems_for(model, model_dir, data_dir).items():
                for spec in sets:
                    texts, labels = read_test_set(data_dir, spec.name, limit)
                    record = evaluate(predict, texts, labels)
                    results.setdefault(name.replace(f" ({model})", ""), {})[spec.name] = record
                    print(
                        f"{name:28s} {spec.name:5s} accuracy {100 * record['accuracy']:.2f}  "
                        f"{record['texts_per_s']:8.0f} texts/s  n={record['n']}",
                        flush=True,
                    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="2,000 texts per test set")
    parser.add_argument("--limit", type=int, default=None, help="texts per test set")
    args = parser.parse_args()
    limit = args.limit or (2000 if args.quick else None)
    payload = {"limit": limit, "load_start": load_average()}
    payload["systems"] = run(args.model_dir, args.data_dir, limit)
    payload["load_end"] = load_average()
    write_json("accuracy", payload)
    from bench.plots import plot_accuracy

    plot_accuracy(payload, None)


if __name__ == "__main__":
    main()
