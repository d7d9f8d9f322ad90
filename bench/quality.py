"""Every system on every test set of a bundle's training config, and on the behaviour suite, in
one run: the shipped bundle (whole model and the served cascade), TF-IDF + LR fitted on the same
mix, and VADER for English.

    python -m bench.quality --bundle model/bundles/sentiment-en --config configs/sentiment-en.toml

Writes docs/results/quality-<lang>.json and two PNGs (scores per set, behaviour pass rates).
Binary sets are scored on P(positive) against P(negative); TweetEval's official score is macro
recall, the other sets' accuracy is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.behaviour import english_suite, korean_suite, run_suite
from bench.peers import MixTfidf, Vader
from model.bundle import load_bundle
from training.config import build_config
from training.onnx_classifier import OnnxClassifier
from training.prepare import read_test_sets
from training.quality import classification_metrics, labels_in

RESULTS = Path("docs/results")


def systems(
    bundle_dir: Path, config_path: str, data_dir: str, teacher: Path | None = None
) -> dict[str, Any]:
    """Name -> an object with predict_proba(texts) over the bundle's labels."""
    bundle = load_bundle(bundle_dir)
    config = build_config(config_path, {"data_dir": data_dir})
    found: dict[str, Any] = {bundle.name: OnnxClassifier(bundle)}
    if teacher is not None:  # the distillation teacher (training/teacher), as a peer
        from training.teacher.runner import TeacherOnnx

        runner = TeacherOnnx(teacher)
        found[f"teacher ({runner.card['name']}, {runner.variant})"] = runner
    if bundle.manifest.cascade:
        found[f"{bundle.name} (served, cascade)"] = OnnxClassifier(bundle, cascade=True)
    found["TF-IDF + LR (same mix)"] = MixTfidf(config).fit()
    if bundle.manifest.language == "en":
        found["VADER"] = Vader(bundle.manifest.labels)
    return found


def score_sets(found: dict[str, Any], config_path: str, data_dir: str) -> dict[str, dict]:
    config = build_config(config_path, {"data_dir": data_dir})
    labels = list(config.labels)
    table: dict[str, dict] = {}
    for set_name, data in read_test_sets(config).items():
        keep = labels_in(data.scored, len(labels))
        for name, system in found.items():
            started = time.perf_counter()
            probabilities = system.predict_proba(data.texts)
            metrics = classification_metrics(probabilities, np.asarray(data.labels), labels, keep)
            metrics["seconds"] = time.perf_counter() - started
            table.setdefault(set_name, {})[name] = metrics
            print(
                f"{set_name:38} {name:34} acc {100 * metrics['accuracy']:6.2f}  macro-R "
                f"{100 * metrics['macro_recall']:6.2f}  ECE {metrics['ece']:.3f}  "
                f"{len(data) / metrics['seconds']:7.0f} texts/s",
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
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--teacher", type=Path, help="also score an exported teacher (runs/teacher-en/export)"
    )
    args = parser.parse_args(argv)
    found = systems(args.bundle, args.config, args.data_dir, args.teacher)
    manifest = load_bundle(args.bundle).manifest
    report = {
        "bundle": manifest.name,
        "version": manifest.version,
        "sets": score_sets(found, args.config, args.data_dir),
        "behaviour": behaviour(found, manifest.language, manifest.labels),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"quality-{manifest.language}"
    Path(f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from bench.quality_plots import behaviour_png, sets_png

    sets_png(report, Path(f"{stem}-sets.png"))
    behaviour_png(report, Path(f"{stem}-behaviour.png"))
    print(f"wrote {stem}.json and PNGs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
