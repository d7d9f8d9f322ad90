"""The teacher pipeline end to end on a tiny real BERT (random weights, built here, no download):
train with resumable checkpoints, export ONNX fp32 + int8, build the transfer set, label it in
chunks that a rerun keeps, and hand the logits to the student's rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from training.config import config_from_dict
from training.teacher.config import TeacherConfig
from training.teacher.text import TeacherTokenizer

WORDS = [
    "good",
    "great",
    "love",
    "bad",
    "awful",
    "hate",
    "fine",
    "okay",
    "the",
    "food",
    "room",
    "was",
    "is",
    "not",
    "it",
]
POSITIVE = ["the food was great", "love it", "great room", "it is good", "good food"]
NEGATIVE = ["the food was awful", "hate it", "bad room", "it is not good", "awful food"]
NEUTRAL = ["the room", "it is the food", "the food is okay", "it was fine", "the room was"]


def _tiny_encoder(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS]
    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    return folder


def _labelled(path: Path, rows: list[tuple[int, str]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("label\ttext\n" + "".join(f"{y}\t{t}\n" for y, t in rows))


@pytest.fixture
def configs(tmp_path: Path) -> tuple[TeacherConfig, object]:
    rows = [(0, t) for t in NEGATIVE] + [(1, t) for t in NEUTRAL] + [(2, t) for t in POSITIVE]
    long_review = ". ".join(["The food was great"] * 20) + ". It is not good."
    _labelled(tmp_path / "train.tsv.gz", rows * 4 + [(2, long_review)])
    _labelled(tmp_path / "test.tsv.gz", [(2, "great food"), (0, "bad food")])
    student = config_from_dict(
        {
            "labels": ["negative", "neutral", "positive"],
            "data_dir": str(tmp_path),
            "train_files": [{"file": "train.tsv.gz", "validation": "random"}],
            "test_files": [{"file": "test.tsv.gz"}],
            "val_fraction": 0.2,
            "max_length": 32,
            "head_tokens": 8,
        }
    )
    teacher = TeacherConfig.model_validate(
        {
            "out_dir": str(tmp_path / "teacher"),
            "student_config": "unused",
            "data": {"max_tokens": 16, "tail_tokens": 8},
            "encoder": {"path": str(_tiny_encoder(tmp_path / "encoder"))},
            "optimisation": {"batch_size": 8, "lr": 1e-3, "threads": 1, "epochs": 2},
            "transfer": {"long_words": 12, "augment_copies": 2, "chunk_texts": 16},
        }
    )
    return teacher, student


def test_long_texts_keep_their_head_and_tail(configs) -> None:
    teacher, _ = configs
    tokenizer = TeacherTokenizer(Path(teacher.encoder.path) / "tokenizer.json", 8, 4)
    (row,) = tokenizer.ids(["good great love bad awful hate fine okay the"])
    pieces = [tokenizer.tokenizer.id_to_token(i) for i in row]
    assert pieces == ["[CLS]", "good", "great", "hate", "fine", "okay", "the", "[SEP]"]


def test_the_pipeline_resumes_exports_and_labels_in_chunks(configs) -> None:
    from training.distill import with_teacher
    from training.prepare import encode, fit_or_load_encoder, read_training_files
    from training.teacher.export import export_teacher
    from training.teacher.label import label_transfer_set, read_soft_labels
    from training.teacher.train import LAST, train_teacher
    from training.teacher.transfer import build_transfer_set, read_transfer_set

    teacher, student = configs
    out = Path(teacher.out_dir)
    train_teacher(teacher, student)
    assert (out / LAST).exists() and json.loads((out / "train_log.json").read_text())["epoch"] == 2
    folder = export_teacher(teacher, student)
    card = json.loads((folder / "teacher.json").read_text())
    assert card["export_max_logit_gap"] < 1e-4 and card["labeller_variant"] in ("fp32", "int8")
    assert set(card["sha256"]) == {"tokenizer.json", "teacher.onnx", "teacher.int8.onnx"}

    texts, origins = read_transfer_set(build_transfer_set(teacher, student))
    held_out = {t for s in read_training_files(student) for t in s.validation.texts}
    assert not held_out & set(texts) and "great food" not in texts  # validation and test stay out
    assert len(set(texts)) == len(texts)
    assert any(o.startswith("sentence:") for o in origins)
    assert any(o.startswith("augment1:") for o in origins)

    labels = label_transfer_set(
        out / "transfer.jsonl.gz", folder, out, teacher.transfer.chunk_texts
    )
    chunks = sorted(labels.glob("chunk-*.npz"))
    assert len(chunks) == -(-len(texts) // 16)
    written = [c.stat().st_mtime_ns for c in chunks]
    label_transfer_set(out / "transfer.jsonl.gz", folder, out, teacher.transfer.chunk_texts)
    assert [c.stat().st_mtime_ns for c in chunks] == written  # a rerun keeps finished chunks
    assert len(read_soft_labels(labels)) == len(texts)

    # packed, restored into a fresh run folder, with the transfer set rebuilt from the data:
    # every chunk still matches its texts, so nothing is labelled again
    from training.teacher.artifacts import pack, restore
    from training.teacher.runner import TeacherOnnx

    moved = teacher.model_copy(update={"out_dir": str(out.parent / "elsewhere")})
    assert restore(pack(out, out.parent / "packed"), Path(moved.out_dir)) == 3 + len(chunks)
    build_transfer_set(moved, student)
    again = sorted((Path(moved.out_dir) / "labels").glob("chunk-*.npz"))
    before = [c.stat().st_mtime_ns for c in again]
    label_transfer_set(
        Path(moved.out_dir) / "transfer.jsonl.gz",
        Path(moved.out_dir) / "export",
        Path(moved.out_dir),
        teacher.transfer.chunk_texts,
    )
    assert [c.stat().st_mtime_ns for c in again] == before

    # a labelling graph over the committed file-size limit stays out of the pack (the int8
    # graph goes in its place when it fits): the restored labels need no graph, and the
    # teacher opens the graph that is there for evaluation
    labeller = folder / f"teacher{'.int8' if card['labeller_variant'] == 'int8' else ''}.onnx"
    small = pack(out, out.parent / "packed-small", labeller.stat().st_size - 1)
    assert not (small / "export" / labeller.name).exists()
    slim = out.parent / "slim"
    restore(small, slim)
    build_transfer_set(teacher.model_copy(update={"out_dir": str(slim)}), student)
    label_transfer_set(slim / "transfer.jsonl.gz", slim / "export", slim, 16)
    assert len(read_soft_labels(slim / "labels")) == len(texts)
    if (slim / "export" / "teacher.int8.onnx").exists():
        assert TeacherOnnx(slim / "export").variant == "int8"
    (slim / "labels" / "chunk-00000.npz").unlink()
    with pytest.raises(FileNotFoundError, match="needed to label the rest"):
        label_transfer_set(slim / "transfer.jsonl.gz", slim / "export", slim, 16)

    split = read_training_files(student)[0]
    encoder = fit_or_load_encoder(student, split.train, out, fit=True)
    taught, record = with_teacher(
        config_from_dict({**student.to_dict(), "teacher_dir": str(out)}),
        encoder,
        split.train,
        encode(encoder, split.train, "train"),
    )
    assert len(taught) > len(split.train) and -1 in taught.labels
    assert (
        record["teacher_graph_sha256"]
        == card["sha256"][f"teacher{'.int8' if card['labeller_variant'] == 'int8' else ''}.onnx"]
    )
    assert set(record["transfer_rows"]) == {"sentence", "augment"}
    assert not np.isnan(taught.soft[len(split.train) :]).any()  # transfer rows all carry logits
    assert "misspelt_rows" not in record  # off unless asked for

    # misspelt copies of the taught rows: each keeps its row's label, weight and logits
    from training.distill import misspelt_copies, misspelt_texts
    from training.misspell import Misspeller

    typos = config_from_dict({**student.to_dict(), "teacher_dir": str(out), "misspelt_copies": 2})
    with_typos, record = with_teacher(
        typos, encoder, split.train, encode(encoder, split.train, "t")
    )
    assert len(with_typos) == len(taught) + record["misspelt_rows"] > len(taught)
    clean = encode(encoder, split.train, "train")
    clean.soft = taught.soft[: len(split.train)]
    copies = misspelt_copies(typos, encoder, split.train, clean)
    taught_rows = np.flatnonzero(~np.isnan(clean.soft[:, 0])).tolist()
    sources, texts = misspelt_texts(split.train.texts, taught_rows, 2, Misspeller(typos.seed, 0.2))
    assert len(copies) == len(sources) == record["misspelt_rows"]
    assert copies.rows == encoder.ids_only(texts)
    for k, source in enumerate(sources):
        assert (copies.labels[k], copies.weights[k]) == (
            clean.labels[source],
            clean.weights[source],
        )
        assert np.array_equal(copies.soft[k], clean.soft[source])
        assert texts[k] != split.train.texts[source]
    changed = sum(row != clean.rows[s] for row, s in zip(copies.rows, sources, strict=True))
    assert changed == len(sources)  # no typo is undone by the tokenizer's normalisation


def test_the_transfer_set_is_made_again_when_its_settings_change(configs) -> None:
    from training.teacher.transfer import build_transfer_set, read_transfer_set

    teacher, student = configs
    path = build_transfer_set(teacher, student)
    first = path.stat().st_mtime_ns
    assert build_transfer_set(teacher, student).stat().st_mtime_ns == first  # same settings: kept
    more = teacher.model_copy(
        update={"transfer": teacher.transfer.model_copy(update={"augment_copies": 3})}
    )
    _, origins = read_transfer_set(build_transfer_set(more, student))
    assert any(o.startswith("augment2:") for o in origins)  # not the stale two-copy set
    assert path.stat().st_mtime_ns != first
