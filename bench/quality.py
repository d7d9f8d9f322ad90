"""Every system on every test set of a bundle's training config, and on the behaviour suite, in
one run: the shipped bundle (whole model, the served cascade, and its int8 graph alone and
served when it has one), TF-IDF + LR fitted on the same mix, and VADER for English; with each
system's offline speed (texts/s, no HTTP) beside its scores. The benchmark suite's one accuracy
command.

    python -m bench quality --bundle model/bundles/sentiment-en --config configs/sentiment-en.toml
    python -m bench quality --bundle model/bundles/sentiment-ko --config configs/sentiment-ko.toml \
        --threads 1 --quick      # 2,000 texts per set, ONNX Runtime and BLAS on one thread

Writes bench/results/quality-<lang>.json and two PNGs (scores per set, behaviour pass rates).
Binary sets are scored on P(positive) against P(negative); TweetEval's official score is macro
recall, the other sets' accuracy is reported beside it. Beside each ECE, `ece_if_calibrated`: the
ECE a perfectly calibrated model with the same confidences would show on a set of that size
(labels drawn from its own probabilities), the floor sampling noise puts under a small set.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.behaviour import english_suite, korean_suite, run_suite
from bench.common import DEFAULT_DATA, RESULTS, load_average
from bench.peers import MixTfidf, Vader
from model.bundle import load_bundle
from training.config import build_config
from training.data import LabelledTexts
from training.onnx_classifier import OnnxClassifier
from training.prepare import read_test_sets
from training.quality import calibrated_ece, classification_metrics, labels_in, restrict

QUICK = 2000  # texts per test set with --quick


def systems(
    bundle_dir: Path, config_path: str, data_dir: str, teacher: Path | None = None, threads: int = 0
) -> dict[str, Any]:
    """Name -> an object with predict_proba(texts) over the bundle's labels."""
    bundle = load_bundle(bundle_dir)
    config = build_config(config_path, {"data_dir": data_dir})
    found: dict[str, Any] = {bundle.name: OnnxClassifier(bundle, "fp32", threads)}
    if "int8" in bundle.manifest.variants:
        found[f"{bundle.name} int8"] = OnnxClassifier(bundle, "int8", threads)
    if teacher is not None:  # the distillation teacher (training/teacher), as a peer
        from training.teacher.runner import TeacherOnnx

        runner = TeacherOnnx(teacher)
        found[f"teacher ({runner.card['name']}, {runner.variant})"] = runner
    if bundle.manifest.cascade:
        served = OnnxClassifier(bundle, "fp32", threads, cascade=True)
        found[f"{bundle.name} (served, cascade)"] = served
        if "int8" in bundle.manifest.variants:  # what SENTIMENT_VARIANT=int8 serves
            served_int8 = OnnxClassifier(bundle, "int8", threads, cascade=True)
            found[f"{bundle.name} int8 (served, cascade)"] = served_int8
    print("fitting TF-IDF + LR on the training mix (minutes on the full mix) ...", flush=True)
    started = time.perf_counter()
    found["TF-IDF + LR (same mix)"] = MixTfidf(config).fit()
    print(f"TF-IDF + LR fitted in {time.perf_counter() - started:.0f} s", flush=True)
    if bundle.manifest.language == "en":
        found["VADER"] = Vader(bundle.manifest.labels)
    return found


def sample(data: LabelledTexts, limit: int | None) -> LabelledTexts:
    """A fixed random sample (seed 0) of `limit` rows, in file order; every row without one."""
    if limit is None or limit >= len(data):
        return data
    return data.subset(sorted(random.Random(0).sample(range(len(data)), limit)))


def score_sets(
    found: dict[str, Any], config_path: str, data_dir: str, limit: int | None = None
) -> dict[str, dict]:
    config = build_config(config_path, {"data_dir": data_dir})
    labels = list(config.labels)
    table: dict[str, dict] = {}
    for set_name, full in read_test_sets(config).items():
        data = sample(full, limit)
        keep = labels_in(data.scored, len(labels))
        for name, system in found.items():
            started = time.perf_counter()
            probabilities = system.predict_proba(data.texts)
            metrics = classification_metrics(probabilities, np.asarray(data.labels), labels, keep)
            kept, _ = restrict(probabilities, np.asarray(data.labels), keep)
            metrics["ece_if_calibrated"] = calibrated_ece(kept)
            metrics["seconds"] = time.perf_counter() - started
            metrics["texts_per_s"] = len(data) / metrics["seconds"]
            table.setdefault(set_name, {})[name] = metrics
            print(
                f"{set_name:38} {name:34} acc {100 * metrics['accuracy']:6.2f}  macro-R "
                f"{100 * metrics['macro_recall']:6.2f}  ECE {metrics['ece']:.3f} "
                f"(calibrated: {metrics['ece_if_calibrated']:.3f})  "
                f"{metrics['texts_per_s']:7.0f} texts/s",
                flush=True,
            )
    return table


def behaviour(found: dict[str, Any], language: str, labels: list[str]) -> dict[str, dict]:
    cases = english_suite() if language == "en" else korean_suite()
    out = {}
    for name, system in found.items():

        def predict(texts: list[str], system: Any = system) -> list[str]:
            return [labels[i] for i in system.predict_proba(texts).argmax(axis=1)]

        results = run_suite(cases, predict)
        out[name] = {
            r.capability: {"passed": r.passed, "total": r.total, "failures": r.failures[:5]}
            for r in results
        }
        rates = ", ".join(f"{r.capability} {100 * r.rate:.0f}%" for r in results)
        print(f"behaviour {name}: {rates}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--config", required=True, help="the bundle's training config (TOML)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--teacher", type=Path, help="also score an exported teacher (runs/teacher-en/export)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="ONNX Runtime and BLAS threads; 0 = their default"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} texts per test set")
    parser.add_argument("--limit", type=int, default=None, help="texts per test set")
    args = parser.parse_args(argv)
    limit = args.limit or (QUICK if args.quick else None)
    with _threads(args.threads):
        found = systems(args.bundle, args.config, args.data_dir, args.teacher, args.threads)
        manifest = load_bundle(args.bundle).manifest
        report = {"bundle": manifest.name, "version": manifest.version, "limit": limit}
        report["load_start"] = load_average()
        report["sets"] = score_sets(found, args.config, args.data_dir, limit)
        report["behaviour"] = behaviour(found, manifest.language, manifest.labels)
        report["load_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"quality-{manifest.language}"
    Path(f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from bench.quality_plots import behaviour_png, sets_png

    sets_png(report, Path(f"{stem}-sets.png"))
    behaviour_png(report, Path(f"{stem}-behaviour.png"))
    print(f"wrote {stem}.json and PNGs")
    return 0


def _threads(count: int) -> Any:
    """BLAS (scikit-learn, numpy) limited to `count` threads; no limit for 0."""
    from contextlib import nullcontext

    if not count:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(count)


if __name__ == "__main__":
    raise SystemExit(main())
