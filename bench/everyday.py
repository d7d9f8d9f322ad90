"""Twenty everyday sentences, written for this check (not from any data set), through one or more
English systems side by side: the minute-long look a new user takes before trusting a model.

    python -m bench everyday --bundle model/bundles/sentiment-en [--bundle other] [--teacher DIR]

Prints each sentence with every system's label and top probability; no pass mark (the behaviour
suite in `bench quality` is the scored version of this).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SENTENCES = (
    "I can't say I enjoyed the meal.",
    "The hotel was neither great nor awful.",
    "I didn't hate it.",
    "Not bad at all!",
    "The fries were great too.",
    "The room was clean and the bed was comfortable.",
    "It was okay I guess",
    "The package arrived on Tuesday.",
    "Great camera, but the battery dies by noon.",
    "Thanks so much for the quick reply 🙏",
    "Worst customer service I've ever dealt with.",
    "yes",
    "meh",
    "The meeting is at 3pm in room 204.",
    "I wouldn't buy it again.",
    "Honestly better than I expected.",
    "My order still hasn't shown up 😤",
    "Love it!!! 😍😍",
    "The price went up by ten dollars this month.",
    "Nothing special, but it does the job.",
)


def systems(bundles: list[Path], teacher: Path | None) -> dict[str, Any]:
    from model.bundle import load_bundle
    from training.onnx_classifier import OnnxClassifier

    found: dict[str, Any] = {}
    for folder in bundles:
        bundle = load_bundle(folder)
        found[f"{bundle.name} {bundle.manifest.version}"] = OnnxClassifier(bundle, cascade=True)
    if teacher is not None:
        from training.teacher.runner import TeacherOnnx

        found["teacher"] = TeacherOnnx(teacher)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench everyday", description=__doc__)
    parser.add_argument("--bundle", type=Path, action="append", required=True)
    parser.add_argument("--teacher", type=Path, help="an exported teacher folder, as a peer")
    args = parser.parse_args(argv)
    found = systems(args.bundle, args.teacher)
    labels = ("negative", "neutral", "positive")
    answers = {name: system.predict_proba(list(SENTENCES)) for name, system in found.items()}
    print("| sentence | " + " | ".join(found) + " |")
    print("|---|" + "---|" * len(found))
    for i, text in enumerate(SENTENCES):
        cells = [f"{labels[p[i].argmax()]} {p[i].max():.2f}" for p in answers.values()]
        print(f"| {text} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
