"""Label the transfer set with the exported teacher, in resumable chunks with provenance.

Each chunk is `labels/chunk-NNNNN.npz`: the teacher's logits (float16 [n, C]), a 64-bit hash of
every text, the share of [UNK] word pieces per text (emoji the teacher cannot read) and the
sha256 of the teacher graph that wrote them. A chunk whose texts or teacher no longer match is
written again; the others are kept, so a stopped run resumes where it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.teacher.runner import CARD, GRAPHS, TeacherOnnx
from training.teacher.transfer import read_transfer_set

log = logging.getLogger(__name__)
LABELS_DIR = "labels"


def text_hashes(texts: list[str]) -> np.ndarray:
    """uint64 per text: the first 8 bytes of its sha256 (names a text across machines)."""
    digests = [hashlib.sha256(t.encode("utf-8")).digest()[:8] for t in texts]
    return np.frombuffer(b"".join(digests), dtype="<u8").copy()


def _unknown_share(rows: list[list[int]], unknown: int) -> np.ndarray:
    """Share of [UNK] among each row's word pieces, [CLS] and [SEP] left out."""
    return np.array(
        [sum(i == unknown for i in r) / max(1, len(r) - 2) for r in rows], dtype=np.float16
    )


def _chunk_is_current(path: Path, hashes: np.ndarray, teacher_sha: str) -> bool:
    if not path.exists():
        return False
    with np.load(path) as chunk:
        return str(chunk["teacher_sha256"]) == teacher_sha and np.array_equal(
            chunk["text_hash"], hashes
        )


def _labeller(export_dir: Path, variant: str) -> TeacherOnnx:
    if not (export_dir / GRAPHS[variant]).exists():
        raise FileNotFoundError(
            f"{export_dir / GRAPHS[variant]} labelled the chunks here and is needed to label the "
            "rest, but it is not there (packed artifacts leave out graphs over the file-size "
            "limit): run the teacher's train and export stages, or restore every chunk"
        )
    return TeacherOnnx(export_dir, variant)


def label_transfer_set(transfer: Path, export_dir: Path, out: Path, chunk_texts: int) -> Path:
    texts, _ = read_transfer_set(transfer)
    card = json.loads((export_dir / CARD).read_text())
    variant = card.get("labeller_variant", "fp32")
    teacher_sha = card["sha256"][GRAPHS[variant]]
    teacher: TeacherOnnx | None = None  # opened for the first chunk to label, if any
    folder = out / LABELS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(texts), chunk_texts)
    bar = tqdm(total=len(texts), desc="teacher labels", unit="text", mininterval=5.0)
    for index, start in enumerate(starts):
        part = texts[start : start + chunk_texts]
        hashes, path = text_hashes(part), folder / f"chunk-{index:05d}.npz"
        if not _chunk_is_current(path, hashes, teacher_sha):
            teacher = teacher or _labeller(export_dir, variant)
            began = time.perf_counter()
            rows = teacher.tokenizer.ids(part)
            logits = teacher.logits_of_rows(rows).astype(np.float16)
            temporary = path.with_suffix(".tmp.npz")
            np.savez(
                temporary,
                logits=logits,
                text_hash=hashes,
                teacher_sha256=teacher_sha,
                unknown_share=_unknown_share(rows, teacher.tokenizer.unknown_id),
                start=start,
            )
            temporary.replace(path)
            log.info("%s: %.0f texts/s", path.name, len(part) / (time.perf_counter() - began))
        bar.update(len(part))
    bar.close()
    return folder


def read_soft_labels(folder: Path) -> dict[int, tuple[np.ndarray, float]]:
    """text hash -> (teacher logits float32 [C], share of [UNK] pieces), every chunk."""
    found: dict[int, tuple[np.ndarray, float]] = {}
    for path in sorted(folder.glob("chunk-*.npz")):
        with np.load(path) as chunk:
            logits = chunk["logits"].astype(np.float32)
            for key, row, unknown in zip(
                chunk["text_hash"].tolist(), logits, chunk["unknown_share"].tolist(), strict=True
            ):
                found[key] = (row, unknown)
    return found
