"""The exported teacher on the student's validation files: macro recall, accuracy, ECE, texts/s.

Test sets are scored by `python -m bench quality --teacher ...`, beside the student and peers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.config import TrainConfig
from training.prepare import read_training_files
from training.quality import classification_metrics, labels_in
from training.teacher.export import EXPORT_DIR
from training.teacher.runner import CARD, TeacherOnnx


def evaluate_teacher(run_dir: Path, student: TrainConfig) -> str:
    folder = run_dir / EXPORT_DIR
    teacher = TeacherOnnx(folder)
    results: dict[str, Any] = {}
    lines = []
    for split in read_training_files(student):
        data = split.validation
        if not len(data):
            continue
        started = time.perf_counter()
        probabilities = teacher.predict_proba(data.texts)
        seconds = time.perf_counter() - started
        keep = labels_in(data.scored, len(student.labels))
        metrics = classification_metrics(
            probabilities, np.asarray(data.labels), student.labels, keep
        )
        metrics["texts_per_second"] = len(data) / seconds
        results[split.entry.name] = metrics
        lines.append(
            f"{split.entry.name:36} n={metrics['n']:6d}"
            f" macro-R {100 * metrics['macro_recall']:6.2f}"
            f" acc {100 * metrics['accuracy']:6.2f} ECE {metrics['ece']:.3f}"
            f" {metrics['texts_per_second']:7.0f} texts/s"
        )
    card = json.loads((folder / CARD).read_text())
    card["validation"] = {"variant": teacher.variant, "files": results}
    (folder / CARD).write_text(json.dumps(card, indent=1) + "\n")
    return "\n".join(lines)
