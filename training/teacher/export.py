"""Export the trained teacher to ONNX (fp32 and dynamic int8) and decide which one labels.

Written to <out_dir>/export/: teacher.onnx, teacher.int8.onnx, tokenizer.json and teacher.json
(labels, truncation, sha256 of every file, how far int8 strays from fp32 on validation texts).
int8 labels the transfer set only when it stays within the config's tolerances.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.bundle import sha256_file
from model.runtime import softmax
from training.config import TrainConfig
from training.prepare import read_training_files
from training.teacher.config import TeacherConfig
from training.teacher.encoder import TeacherClassifier, encoder_folder
from training.teacher.runner import CARD, GRAPHS, TeacherOnnx
from training.teacher.text import TeacherTokenizer, pad_rows
from training.teacher.train import FINAL

log = logging.getLogger(__name__)
EXPORT_DIR = "export"
AGREEMENT_TEXTS = 3000


def _load_trained(config: TeacherConfig, labels: int) -> TeacherClassifier:
    model = TeacherClassifier(
        encoder_folder(config.encoder.package, config.encoder.path), labels, 0.0
    )
    payload = torch.load(Path(config.out_dir) / FINAL, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    return model.eval()


def _to_onnx(model: TeacherClassifier, tokenizer: TeacherTokenizer, path: Path) -> float:
    """TorchScript exporter, dynamic batch and length; returns the max |logit| gap to torch."""
    sample = ["fine", "The staff were friendly but the food was cold and the wait far too long."]
    ids, mask = pad_rows(tokenizer.ids(sample))
    example = (torch.from_numpy(ids), torch.from_numpy(mask))
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    torch.onnx.export(
        model,
        example,
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes=axes | {"logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    check = ["I didn't hate it.", "ok", "Worst purchase ever, it broke after two days " * 3]
    ids, mask = pad_rows(tokenizer.ids(check))  # another length than the example's
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    return float(np.abs(got - expected).max())


def _int8_agreement(folder: Path, texts: list[str]) -> dict[str, float]:
    """How often int8 labels a validation text unlike fp32, and how far probabilities move."""
    started = time.perf_counter()
    fp32 = softmax(TeacherOnnx(folder, "fp32").logits(texts))
    fp32_seconds = time.perf_counter() - started
    started = time.perf_counter()
    int8 = softmax(TeacherOnnx(folder, "int8").logits(texts))
    int8_seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "disagreement": float((fp32.argmax(1) != int8.argmax(1)).mean()),
        "mean_probability_shift": float(np.abs(fp32 - int8).max(1).mean()),
        "fp32_texts_per_second": len(texts) / fp32_seconds,
        "int8_texts_per_second": len(texts) / int8_seconds,
    }


def _validation_sample(student: TrainConfig, seed: int) -> list[str]:
    texts = [t for s in read_training_files(student) for t in s.validation.texts]
    return random.Random(seed).sample(texts, min(AGREEMENT_TEXTS, len(texts)))


def export_teacher(config: TeacherConfig, student: TrainConfig) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(config.out_dir) / EXPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    folder = encoder_folder(config.encoder.package, config.encoder.path)
    shutil.copyfile(folder / "tokenizer.json", out / "tokenizer.json")
    tokenizer = TeacherTokenizer(
        out / "tokenizer.json",
        config.data.max_tokens,
        config.data.tail_tokens,
        config.data.emoji_names,
    )
    gap = _to_onnx(_load_trained(config, len(student.labels)), tokenizer, out / GRAPHS["fp32"])
    log.info("teacher.onnx written; max |logit - torch| = %.2e", gap)
    # per-channel weight scales: per-tensor ones moved 6.3% of validation labels, these 2.3%
    quantize_dynamic(
        out / GRAPHS["fp32"], out / GRAPHS["int8"], weight_type=QuantType.QInt8, per_channel=True
    )
    card = _card(config, student, out, gap)
    (out / CARD).write_text(json.dumps(card, indent=1) + "\n")  # runners read truncation here
    card["int8"] = _int8_agreement(out, _validation_sample(student, config.seed))
    tolerance = config.export
    fits = (
        card["int8"]["disagreement"] <= tolerance.int8_max_disagreement
        and card["int8"]["mean_probability_shift"] <= tolerance.int8_max_probability_shift
    )
    card["labeller_variant"] = "int8" if fits else "fp32"
    (out / CARD).write_text(json.dumps(card, indent=1) + "\n")
    log.info("int8 against fp32: %s; labels with %s", card["int8"], card["labeller_variant"])
    return out


def _card(config: TeacherConfig, student: TrainConfig, out: Path, gap: float) -> dict[str, Any]:
    train_log = json.loads((Path(config.out_dir) / "train_log.json").read_text())
    files = ["tokenizer.json", *GRAPHS.values()]
    return {
        "name": config.name,
        "encoder": {"package": config.encoder.package, "version": version(config.encoder.package)},
        "labels": list(student.labels),
        "data": {
            "max_tokens": config.data.max_tokens,
            "tail_tokens": config.data.tail_tokens,
            "emoji_names": config.data.emoji_names,
        },
        "config": config.model_dump(mode="json"),
        "training": {
            "rows": train_log["rows"],
            "seconds": train_log["seconds"],
            "steps": train_log["step"],
        },
        "export_max_logit_gap": gap,
        "sha256": {name: sha256_file(out / name) for name in files},
        "labeller_variant": "fp32",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
