"""The teacher's finished stages as compact, committed artifacts, and the way back into a run.

`pack` copies what the student needs and what took long to make (the labelling graph, its card
and tokenizer, the labelled chunks) into a folder with a SHA256SUMS file; `restore` verifies
every sum and copies them into a run folder, where the stages that wrote them are then skipped.
The transfer texts are not packed: they are training data, rebuilt from the data folder by the
`transfer` stage, and each labelled chunk checks that its texts hash the same.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.bundle import sha256_file
from training.teacher.export import EXPORT_DIR
from training.teacher.label import LABELS_DIR
from training.teacher.runner import CARD, GRAPHS

SUMS = "SHA256SUMS"


def _packed_files(run_dir: Path) -> list[Path]:
    export = run_dir / EXPORT_DIR
    card = json.loads((export / CARD).read_text())
    files = [export / CARD, export / "tokenizer.json", export / GRAPHS[card["labeller_variant"]]]
    return [*files, *sorted((run_dir / LABELS_DIR).glob("chunk-*.npz"))]


def pack(run_dir: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in _packed_files(run_dir):
        relative = path.relative_to(run_dir)
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination / relative)
        lines.append(f"{sha256_file(path)}  {relative.as_posix()}")
    (destination / SUMS).write_text("\n".join(lines) + "\n")
    return destination


def restore(source: Path, run_dir: Path) -> int:
    """Verify `source`'s SHA256SUMS and copy its files into `run_dir`; returns files copied."""
    listed = [line.split("  ", 1) for line in (source / SUMS).read_text().splitlines() if line]
    for digest, name in listed:
        if sha256_file(source / name) != digest:
            raise ValueError(f"{source / name}: sha256 differs from {source / SUMS}; re-pack it")
    for _, name in listed:
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, run_dir / name)
    return len(listed)
