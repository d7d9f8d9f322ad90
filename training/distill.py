"""The teacher's logits on the student's rows: attached to training texts the teacher labelled,
and transfer-only rows (review sentences, augmented texts) appended with no hard label (-1).

What the teacher wrote lives in its run folder (`teacher_dir`): the transfer set and the labelled
chunks, matched to texts by a hash of the text, so any row of the mix finds its logits.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from model.text import TextEncoder
from training.config import TrainConfig
from training.data import ALL_LABELS, LabelledTexts
from training.misspell import Misspeller
from training.prepare import EncodedSplit, encode
from training.teacher.export import EXPORT_DIR
from training.teacher.label import LABELS_DIR, read_soft_labels, text_hashes
from training.teacher.runner import CARD, GRAPHS
from training.teacher.transfer import TRANSFER_FILE, read_transfer_set

log = logging.getLogger(__name__)


def _lookup(texts: list[str], soft: dict, max_unknown: float, width: int) -> np.ndarray:
    """[N, C] teacher logits per text; NaN where the teacher did not label it or could not read
    it (too many [UNK] word pieces, e.g. a text of emoji)."""
    out = np.full((len(texts), width), np.nan, dtype=np.float32)
    for i, key in enumerate(text_hashes(texts).tolist()):
        found = soft.get(key)
        if found is not None and found[1] <= max_unknown:
            out[i] = found[0]
    return out


def _file_weights(config: TrainConfig) -> dict[str, float]:
    return {entry.name: entry.weight for entry in config.train_files}


def transfer_rows(
    config: TrainConfig, encoder: TextEncoder, soft: dict
) -> tuple[EncodedSplit, dict[str, int]]:
    """Transfer-only texts with teacher logits, each weighted like the file it came from."""
    texts, origins = read_transfer_set(Path(config.teacher_dir) / TRANSFER_FILE)
    picked = [i for i, origin in enumerate(origins) if not origin.startswith("train:")]
    if config.transfer_rows >= 0 and len(picked) > config.transfer_rows:
        picked = sorted(random.Random(config.seed).sample(picked, config.transfer_rows))
    chosen = [texts[i] for i in picked]
    logits = _lookup(chosen, soft, config.distill_max_unknown, len(config.labels))
    keep = [i for i in range(len(chosen)) if not np.isnan(logits[i, 0])]
    weights = _file_weights(config)
    row_weights = [weights.get(origins[picked[i]].split(":", 1)[1], 1.0) for i in keep]
    rows = encoder.ids_only([chosen[i] for i in keep])
    log.info("distillation: %d transfer rows (of %d offered)", len(keep), len(chosen))
    kinds: dict[str, int] = {}
    for i in keep:  # "augment0:imdb-train" -> "augment"
        kind = origins[picked[i]].split(":", 1)[0].rstrip("0123456789")
        kinds[kind] = kinds.get(kind, 0) + 1
    split = EncodedSplit(
        "transfer",
        rows,
        [-1] * len(keep),
        [ALL_LABELS] * len(keep),
        row_weights,
        soft=logits[keep],
    )
    return split, kinds


def misspelt_texts(
    texts: list[str], indices: list[int], copies: int, misspell: Misspeller
) -> tuple[list[int], list[str]]:
    """(source index, misspelt text) for `copies` rounds over `indices`; texts without a word
    to misspell are skipped."""
    sources, out = [], []
    for _ in range(copies):
        for i in indices:
            copy = misspell(texts[i])
            if copy is not None:
                sources.append(i)
                out.append(copy)
    return sources, out


def misspelt_copies(
    config: TrainConfig, encoder: TextEncoder, texts: LabelledTexts, split: EncodedSplit
) -> EncodedSplit:
    """`misspelt_copies` copies of every training row the teacher labelled, with typos
    (`training/misspell.py`): each keeps its row's label, weight and teacher logits."""
    assert split.soft is not None
    taught = np.flatnonzero(~np.isnan(split.soft[:, 0])).tolist()
    misspell = Misspeller(config.seed, config.misspell_probability)
    sources, copies = misspelt_texts(texts.texts, taught, config.misspelt_copies, misspell)
    data = texts.subset(sources)
    data.texts = copies
    out = encode(encoder, data, "misspelt")
    out.soft = split.soft[sources]  # [0, C] when there are none
    log.info("distillation: %d misspelt copies of %d taught rows", len(out), len(taught))
    return out


def with_teacher(
    config: TrainConfig, encoder: TextEncoder, texts: LabelledTexts, split: EncodedSplit
) -> tuple[EncodedSplit, dict[str, Any]]:
    """The training split with teacher logits on its rows, then the transfer rows after it;
    and what the model card says of the teacher and the transfer set."""
    folder = Path(config.teacher_dir)
    soft = read_soft_labels(folder / LABELS_DIR)
    split.soft = _lookup(texts.texts, soft, config.distill_max_unknown, len(config.labels))
    taught = int((~np.isnan(split.soft[:, 0])).sum())
    log.info("distillation: teacher logits on %d of %d training rows", taught, len(split))
    extra, kinds = transfer_rows(config, encoder, soft)
    misspelt = misspelt_copies(config, encoder, texts, split)
    card = json.loads((folder / EXPORT_DIR / CARD).read_text())
    record = {
        "teacher": card["name"],
        "encoder": card["encoder"],
        "teacher_graph_sha256": card["sha256"][GRAPHS[card["labeller_variant"]]],
        "labeller_variant": card["labeller_variant"],
        "training_rows_with_teacher_logits": taught,
        "training_rows": len(split),
        "transfer_rows": kinds,
        "distill_weight": config.distill_weight,
        "distill_temperature": config.distill_temperature,
    }
    if len(misspelt):
        record["misspelt_rows"] = len(misspelt)
    return EncodedSplit.concat([split, misspelt, extra], split.name), record
