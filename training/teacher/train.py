"""Fine-tune the teacher, resumably: `last.pt` is written every `checkpoint_seconds` and at the
end of every epoch, with the optimiser, the schedule and the position inside the epoch, so a run
stopped at any moment (or moved to another machine with its run folder) goes on from there.

The loss is the student's: cross-entropy over the labels each row could have had
(`training.losses`), so binary rows never pull on the neutral logit.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from training.batching import bucketed_batches
from training.config import TrainConfig
from training.data import LabelledTexts
from training.losses import allowed_mask, masked_cross_entropy
from training.teacher.config import TeacherConfig
from training.teacher.data import teacher_rows
from training.teacher.encoder import TeacherClassifier, encoder_folder
from training.teacher.text import TeacherTokenizer, pad_rows

log = logging.getLogger(__name__)
LAST, FINAL = "last.pt", "final.pt"
LOG_EVERY = 25


@dataclass
class TeacherProgress:
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished inside the current epoch
    step: int = 0  # optimiser steps in all
    seconds: float = 0.0  # training time so far, across resumes
    steps: list[dict[str, float]] = field(default_factory=list)  # sampled losses


def linear_schedule(total: int, warmup_fraction: float) -> Any:
    warmup = max(1, int(total * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


class TeacherTrainer:
    def __init__(self, config: TeacherConfig, student: TrainConfig) -> None:
        self.config, self.student = config, student
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        opt = config.optimisation
        if opt.threads:
            torch.set_num_threads(opt.threads)
        wants_cuda = opt.device == "cuda" or (opt.device == "auto" and torch.cuda.is_available())
        self.device = torch.device("cuda" if wants_cuda else "cpu")
        torch.manual_seed(config.seed)
        self.folder = encoder_folder(config.encoder.package, config.encoder.path)
        self.tokenizer = TeacherTokenizer(
            self.folder / "tokenizer.json",
            config.data.max_tokens,
            config.data.tail_tokens,
            config.data.emoji_names,
        )
        self.model = TeacherClassifier(self.folder, len(student.labels), config.encoder.dropout).to(
            self.device
        )
        self.progress = TeacherProgress()

    def prepare(self, rows: LabelledTexts) -> None:
        self.rows = rows
        self.ids = self.tokenizer.ids(rows.texts)
        per_epoch = len(self._batches(0))
        total = per_epoch * self.config.optimisation.epochs
        opt = self.config.optimisation
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, linear_schedule(total, opt.warmup_fraction)
        )
        log.info("teacher: %d rows, %d steps per epoch, %d in all", len(rows), per_epoch, total)

    def _batches(self, epoch: int) -> list[list[int]]:
        opt = self.config.optimisation
        lengths = [len(r) for r in self.ids]
        return bucketed_batches(
            lengths, opt.batch_size, opt.bucket_batches, self.config.seed + epoch
        )

    # ---- checkpoints --------------------------------------------------------------------
    def save_last(self) -> None:
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "progress": asdict(self.progress),
            "config": self.config.model_dump(mode="json"),
            "rows": len(self.rows),
            "torch_rng": torch.get_rng_state(),
        }
        temporary = self.out / (LAST + ".tmp")
        torch.save(payload, temporary)
        temporary.replace(self.out / LAST)  # never a half-written checkpoint

    def restore(self) -> bool:
        path = self.out / LAST
        if not path.exists():
            return False
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload["rows"] != len(self.rows):
            raise ValueError(
                f"{path} was written for {payload['rows']} rows, this config gives "
                f"{len(self.rows)}: use another out_dir or delete it"
            )
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.progress = TeacherProgress(**payload["progress"])
        torch.set_rng_state(payload["torch_rng"])
        log.info("resumed: epoch %d, batch %d", self.progress.epoch, self.progress.batch)
        return True

    # ---- training -----------------------------------------------------------------------
    def _step(self, batch: list[int]) -> float:
        ids, mask = pad_rows([self.ids[i] for i in batch])
        labels = torch.tensor([self.rows.labels[i] for i in batch], device=self.device)
        allowed = allowed_mask([self.rows.allowed[i] for i in batch], len(self.student.labels))
        weights = torch.tensor([self.rows.weights[i] for i in batch], device=self.device)
        logits = self.model(
            torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
        )
        loss = masked_cross_entropy(logits, labels, allowed.to(self.device), weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss)

    def run_epoch(self, epoch: int) -> None:
        batches = self._batches(epoch)
        start = self.progress.batch
        bar = tqdm(
            batches[start:],
            desc=f"teacher epoch {epoch + 1}",
            initial=start,
            total=len(batches),
            mininterval=5.0,
            dynamic_ncols=True,
        )
        last_save = time.monotonic()
        for batch in bar:
            began = time.perf_counter()
            loss = self._step(batch)
            self.progress.seconds += time.perf_counter() - began
            self.progress.batch += 1
            self.progress.step += 1
            if self.progress.step % LOG_EVERY == 0:
                self.progress.steps.append({"step": self.progress.step, "loss": loss})
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            if time.monotonic() - last_save > self.config.optimisation.checkpoint_seconds:
                self.save_last()
                last_save = time.monotonic()
        self.progress.epoch, self.progress.batch = epoch + 1, 0
        self.save_last()

    def run(self) -> Path:
        self.model.train()
        while self.progress.epoch < self.config.optimisation.epochs:
            self.run_epoch(self.progress.epoch)
        final = self.out / FINAL
        torch.save({"model": self.model.state_dict()}, final)
        record = {"rows": len(self.rows), **asdict(self.progress)}
        (self.out / "train_log.json").write_text(json.dumps(record, indent=1) + "\n")
        log.info("teacher trained in %.0f s: %s", self.progress.seconds, final)
        return final


def train_teacher(config: TeacherConfig, student: TrainConfig) -> Path:
    """Train (or resume, when the run folder has last.pt) and write final.pt."""
    trainer = TeacherTrainer(config, student)
    if (trainer.out / FINAL).exists():
        log.info("teacher: %s exists, training skipped", trainer.out / FINAL)
        return trainer.out / FINAL
    trainer.prepare(teacher_rows(config, student))
    trainer.restore()
    return trainer.run()
