"""The teacher's finished stages as compact, committed artifacts, and the way back into a run.

`pack` copies what the student needs and what took long to make (the labelling graph, or the
int8 graph when the labeller is over the committed file-size limit; its card and tokenizer; the
labelled chunks) into a folder with a SHA256SUMS file; `restore` verifies
every sum and copies them into a run folder, where the stages that wrote them are then skipped.
The transfer texts are not packed: they are training data, rebuilt from the data folder by the
`transfer` stage, and each labelled chunk checks that its texts hash the same.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from model.bundle import sha256_file
from training.teacher.export import EXPORT_DIR
from training.teacher.label import LABELS_DIR
from training.teacher.runner import CARD, GRAPHS

SUMS = "SHA256SUMS"
MAX_FILE_BYTES = 25_000_000  # a committed file stays under 25 MB
log = logging.getLogger(__name__)


def packed_graph(export: Path, labeller: str, max_file_bytes: int) -> Path | None:
    """The labelling graph; when it is over the limit (an fp32 labeller: ~90 MB), the int8
    graph instead, for evaluation and `bench quality --teacher` (the labels need no graph);
    None when no graph fits."""
    for variant in (labeller, "int8"):
        graph = export / GRAPHS[variant]
        if graph.exists() and graph.stat().st_size <= max_file_bytes:
            if variant != labeller:
                too_big = GRAPHS[labeller]
                log.info("%s is over %d bytes: packing %s", too_big, max_file_bytes, graph.name)
            return graph
    log.info("no teacher graph under %d bytes: packing the labels without a graph", max_file_bytes)
    return None


def _packed_files(run_dir: Path, max_file_bytes: int) -> list[Path]:
    export = run_dir / EXPORT_DIR
    card = json.loads((export / CARD).read_text())
    files = [export / CARD, export / "tokenizer.json"]
    graph = packed_graph(export, card["labeller_variant"], max_file_bytes)
    files += [graph] if graph is not None else []
    return [*files, *sorted((run_dir / LABELS_DIR).glob("chunk-*.npz"))]


def pack(run_dir: Path, destination: Path, max_file_bytes: int = MAX_FILE_BYTES) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for stale in destination.rglob("*"):
        if stale.is_file():
            stale.unlink()  # a graph or chunk of an earlier teacher must not linger
    lines = []
    for path in _packed_files(run_dir, max_file_bytes):
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
