"""Checkpoints: everything to resume a run or export its model, in one torch file per epoch.

Checkpoints hold optimiser state and live in the run folder only; bundles never hold pickles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from training.config import TrainConfig, config_from_dict
from training.models import ModelSpec, SentimentClassifier

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class Progress:
    """Where a run stands; restored by --resume."""

    member: int = 0  # recurrent member being trained (the ensemble trains them one by one)
    epoch: int = 0  # epochs finished by this member
    step: int = 0
    best_score: float = -1.0
    best_epoch: int = 0
    stale_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per epoch
    steps: list[dict[str, float]] = field(default_factory=list)  # sampled training losses
    ngram_fit: dict[str, float] = field(default_factory=dict)
    data: list[dict[str, Any]] = field(default_factory=list)  # per training file: rows, terms
    distillation: dict[str, Any] = field(default_factory=dict)  # teacher and transfer set used
    embedding_seed: dict[str, Any] = field(default_factory=dict)  # encoder, share of tokens seeded


def save(
    path: Path,
    model: SentimentClassifier,
    config: TrainConfig,
    progress: Progress,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    payload = {
        "config": config.to_dict(),
        "spec": dataclasses.asdict(model.spec),
        "model": model.state_dict(),
        "progress": dataclasses.asdict(progress),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
        "torch_rng": torch.get_rng_state(),
    }
    temporary = path.with_suffix(".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)  # a crash mid-write never leaves a half checkpoint


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint; train first or check --run")
    return torch.load(path, map_location="cpu", weights_only=True)


def restore_model(payload: dict[str, Any]) -> tuple[SentimentClassifier, TrainConfig]:
    model = SentimentClassifier(ModelSpec(**payload["spec"]))
    model.load_state_dict(payload["model"])
    return model.eval(), config_from_dict(payload["config"])


def restore_progress(payload: dict[str, Any]) -> Progress:
    return Progress(**payload["progress"])
