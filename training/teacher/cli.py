"""`python -m training teacher`: train (resuming), export, evaluate the teacher, build the
transfer set and label it, stage by stage.

Every stage skips work already written in the run folder, so the same command finishes an
interrupted run on this machine or another one that has the folder.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from training.config import TrainConfig, build_config
from training.teacher.config import TeacherConfig, load_teacher_config

log = logging.getLogger(__name__)
STAGES = ("train", "export", "evaluate", "transfer", "label")  # "all" runs these in order
ARTIFACTS = Path("training/artifacts")  # committed, compact results of finished stages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="teacher TOML (configs/teacher-en.toml)")
    parser.add_argument(
        "--data-dir",
        default="",
        help="folder of the data sets (default: the student config's data_dir)",
    )
    parser.add_argument("--out-dir", default="", help="run folder (default: the config's)")
    parser.add_argument(
        "--stage",
        choices=(*STAGES, "pack", "all"),
        default="all",
        help="run one stage only (default: every stage not yet done); pack copies the "
        "labelling graph and the labels to training/artifacts/<name>",
    )
    parser.add_argument(
        "--from-artifacts",
        default="",
        help="first restore packed stages (e.g. training/artifacts/teacher-en) into the run "
        "folder, verifying their sha256: the student then needs only the transfer stage",
    )


def run(args: argparse.Namespace) -> None:
    overrides = {"out_dir": args.out_dir} if args.out_dir else {}
    config = load_teacher_config(args.config, overrides)
    student = build_config(
        config.student_config, {"data_dir": args.data_dir} if args.data_dir else {}
    )
    out = Path(config.out_dir)
    if args.from_artifacts:
        from training.teacher.artifacts import restore

        print(f"restored {restore(Path(args.from_artifacts), out)} files into {out}")
    stages = STAGES if args.stage == "all" else (args.stage,)
    for stage in stages:
        STAGE_RUNNERS[stage](config, student, out)


def _train(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.export import EXPORT_DIR
    from training.teacher.runner import CARD
    from training.teacher.train import train_teacher

    if (out / EXPORT_DIR / CARD).exists():
        print(f"train: skipped, {out / EXPORT_DIR / CARD} exists")
        return
    train_teacher(config, student)


def _export(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.export import EXPORT_DIR, export_teacher
    from training.teacher.runner import CARD

    if (out / EXPORT_DIR / CARD).exists():
        print(f"export: skipped, {out / EXPORT_DIR / CARD} exists (delete it to export again)")
        return
    export_teacher(config, student)


def _evaluate(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.evaluate import evaluate_teacher

    print(evaluate_teacher(out, student))


def _transfer(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.transfer import build_transfer_set

    print(build_transfer_set(config, student))


def _label(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.export import EXPORT_DIR
    from training.teacher.label import label_transfer_set
    from training.teacher.transfer import TRANSFER_FILE

    print(
        label_transfer_set(out / TRANSFER_FILE, out / EXPORT_DIR, out, config.transfer.chunk_texts)
    )


def _pack(config: TeacherConfig, student: TrainConfig, out: Path) -> None:
    from training.teacher.artifacts import pack

    print(pack(out, ARTIFACTS / config.name))


STAGE_RUNNERS: dict[str, Callable[[TeacherConfig, TrainConfig, Path], None]] = {
    "train": _train,
    "export": _export,
    "evaluate": _evaluate,
    "transfer": _transfer,
    "label": _label,
    "pack": _pack,
}
