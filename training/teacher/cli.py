"""`python -m training teacher`: train (resuming), export, evaluate the teacher, build the
transfer set and label it, stage by stage.

Every stage skips work already written in the run folder, so the same command finishes an
interrupted run on this machine or another one that has the folder.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from training.config import build_config
from training.teacher.config import load_teacher_config

log = logging.getLogger(__name__)
STAGES = ("train", "export", "evaluate", "transfer", "label")


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
        choices=(*STAGES, "all"),
        default="all",
        help="run one stage only (default: every stage not yet done)",
    )


def run(args: argparse.Namespace) -> None:
    overrides = {"out_dir": args.out_dir} if args.out_dir else {}
    config = load_teacher_config(args.config, overrides)
    student = build_config(
        config.student_config, {"data_dir": args.data_dir} if args.data_dir else {}
    )
    stages = STAGES if args.stage == "all" else (args.stage,)
    if "train" in stages:
        from training.teacher.train import train_teacher

        train_teacher(config, student)
    if "export" in stages:
        from training.teacher.export import export_teacher

        export_teacher(config, student)
    if "evaluate" in stages:
        from training.teacher.evaluate import evaluate_teacher

        print(evaluate_teacher(Path(config.out_dir), student))
    if "transfer" in stages:
        from training.teacher.transfer import build_transfer_set

        build_transfer_set(config, student)
    if "label" in stages:
        from training.teacher.export import EXPORT_DIR
        from training.teacher.label import label_transfer_set
        from training.teacher.transfer import TRANSFER_FILE

        out = Path(config.out_dir)
        print(
            label_transfer_set(
                out / TRANSFER_FILE, out / EXPORT_DIR, out, config.transfer.chunk_texts
            )
        )
