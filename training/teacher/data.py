"""The teacher's training rows: the student's training splits, sampled per file, plus extras.

Reading through `training.prepare` keeps the student's validation carve, so no validation text
of the student ever trains the teacher.
"""

from __future__ import annotations

import logging
import random

from training.config import TrainConfig
from training.data import LabelledTexts
from training.prepare import read_file, read_training_files
from training.teacher.config import TeacherConfig

log = logging.getLogger(__name__)


def _cap(data: LabelledTexts, limit: int, seed: int) -> LabelledTexts:
    if limit <= 0 or len(data) <= limit:
        return data
    return data.subset(sorted(random.Random(seed).sample(range(len(data)), limit)))


def teacher_rows(config: TeacherConfig, student: TrainConfig) -> LabelledTexts:
    """Every file's training rows, cut to its `max_rows` (a name mapped to 0 is left out)."""
    parts = [(split.entry.name, split.train) for split in read_training_files(student)]
    for entry in config.data.extra_files:
        parts.append((entry.name, read_file(student, entry).weighted(entry.weight)))
    kept = []
    for name, data in parts:
        limit = config.data.max_rows.get(name, config.data.default_max_rows)
        if name in config.data.max_rows and limit == 0:
            log.info("teacher data: %s left out", name)
            continue
        sample = _cap(data, limit, config.seed)
        log.info("teacher data: %s %d of %d rows", name, len(sample), len(data))
        kept.append(sample)
    unknown = set(config.data.max_rows) - {name for name, _ in parts}
    if unknown:
        raise ValueError(f"data.max_rows names files the mix does not have: {sorted(unknown)}")
    return LabelledTexts.concat(kept)
