"""Training: fit the n-gram member, train the recurrent members, mix them on validation.

Runs alone or under `torchrun` (DistributedDataParallel over the recurrent member; gloo on CPU,
nccl on GPU). Rank 0 fits the tokenizer and the n-gram member, evaluates, and writes checkpoints;
every epoch ends with `last.pt`, so `--resume` continues an interrupted run where it stopped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training import checkpoint, distributed
from training.batching import bucketed_batches, make_batches, shard
from training.checkpoint import Progress
from training.config import TrainConfig
from training.data import LabelledTexts
from training.distributed import Placement
from training.embedding_seed import seeded_rows
from training.losses import allowed_mask, masked_cross_entropy, student_loss
from training.mix import balanced_weights, fit_mix, member_logits, mixed
from training.models import ModelSpec, SentimentClassifier
from training.prepare import (
    EncodedSplit,
    FileSplit,
    encode,
    fit_or_load_encoder,
    ngram_fit_rows,
    read_training_files,
    save_validation,
)
from training.quality import classification_metrics, labels_in
from training.tokenizer import token_characters
from training.wide import fit_ngram_member

log = logging.getLogger(__name__)
STEP_LOG_EVERY = 25


def model_spec(config: TrainConfig, vocab_size: int) -> ModelSpec:
    return ModelSpec(
        vocab_size=vocab_size,
        num_labels=len(config.labels),
        arch=config.arch,
        embed_dim=config.embed_dim,
        hidden_dim=config.hidden_dim,
        num_layers=config.num_layers,
        bidirectional=config.bidirectional,
        cnn_channels=config.cnn_channels,
        cnn_kernel=config.cnn_kernel,
        cnn_stride=config.cnn_stride,
        dropout=config.dropout,
        embed_dropout=config.embed_dropout,
        ngram_buckets=config.ngram_buckets,
        ngram_order=config.ngram_order,
        char_order=config.ngram_chars,
        members=config.members,
        share_embedding=config.share_embedding,
        char_members=config.char_members,
    )


def warmup_cosine(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    warmup = max(1, int(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class Trainer:
    """Holds the state of one run; `run()` goes from data to the best checkpoint."""

    def __init__(self, config: TrainConfig, resume: bool) -> None:
        self.config, self.resume = config, resume
        self.out = Path(config.out_dir)
        self.placement: Placement = distributed.start(config.device, config.threads, config.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress = Progress()

    # ---- set-up -------------------------------------------------------------------------
    def prepare(self) -> None:
        splits = read_training_files(self.config)
        train_texts = LabelledTexts.concat([split.train for split in splits])
        if self.placement.is_main:
            fit_or_load_encoder(self.config, train_texts, self.out, fit=True)
            save_validation(splits, self.out)
        distributed.barrier(self.placement)
        encoder = fit_or_load_encoder(self.config, train_texts, self.out, fit=False)
        self.train_split = encode(encoder, train_texts, "train")
        if self.config.teacher_dir:
            from training.distill import with_teacher

            self.train_split, self.progress.distillation = with_teacher(
                self.config, encoder, train_texts, self.train_split
            )
        self.val_files = [
            encode(encoder, s.validation, s.entry.name) for s in splits if len(s.validation)
        ]
        self.val_split = EncodedSplit.concat(self.val_files, "validation")
        self.val_weights = balanced_weights(self.val_files, self.config.mix_balance_labels)
        self.ngram_rows = ngram_fit_rows(splits)
        self.progress.data = [data_record(split) for split in splits]
        self.model = SentimentClassifier(model_spec(self.config, encoder.vocab_size))
        if self.model.token_chars.size(0) > 1:  # character n-grams or character members
            table = token_characters(encoder.tokenizer, self.model.spec.char_width)
            self.model.token_chars.copy_(torch.tensor(table, dtype=torch.int32))
        self.tokenizer = encoder.tokenizer
        self.model.to(self.placement.device)

    def _seed_embeddings(self) -> None:
        """Start each recurrent member's token embedding from the encoder's vectors (a fresh
        run only: a resumed one loads its own weights)."""
        rows = seeded_rows(self.tokenizer, self.config.embedding_seed, self.config.embed_dim)
        device = self.placement.device
        ids, vectors = torch.from_numpy(rows.ids).to(device), torch.from_numpy(rows.vectors)
        with torch.no_grad():
            for member in self.model.recurrent or []:
                member.embedding.weight[ids] = vectors.to(device)
        self.progress.embedding_seed = {
            "encoder": self.config.embedding_seed,
            "coverage": round(rows.coverage, 4),
        }
        log.info(
            "embedding: %.1f%% of %d tokens start from %s",
            100 * rows.coverage,
            rows.vocab_size,
            self.config.embedding_seed,
        )

    def _build_optimiser(self) -> None:
        """AdamW and its schedule for the member being trained (each member starts afresh)."""
        if self.model.recurrent is None or self.progress.member >= self.model.spec.members:
            self.member = self.ddp = self.optimizer = self.scheduler = None
            return
        self.member = self.model.recurrent[self.progress.member]
        if self.model.spec.share_embedding and self.progress.member > 0:
            self.member.embedding.weight.requires_grad_(False)  # the first member's, kept as is
        self.ddp = DistributedDataParallel(self.member) if self.placement.distributed else None
        trainable = [p for p in self.member.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            trainable, lr=self.config.lr, weight_decay=self.config.weight_decay
        )
        per_epoch = len(self.train_split.rows) // (
            self.config.batch_size * self.placement.world_size
        )
        total = max(1, per_epoch * self.config.epochs)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(total, self.config.warmup_fraction)
        )

    def restore_or_fit_ngrams(self) -> None:
        last = self.out / checkpoint.LAST
        if self.resume and last.exists():
            payload = checkpoint.load(last)
            self.model.load_state_dict(payload["model"])
            self.progress = checkpoint.restore_progress(payload)
            self._build_optimiser()
            if self.optimizer is not None and payload["optimizer"] is not None:
                self.optimizer.load_state_dict(payload["optimizer"])
                self.scheduler.load_state_dict(payload["scheduler"])
            torch.set_rng_state(payload["torch_rng"])
            log.info(
                "resumed from %s: member %d after epoch %d",
                last,
                self.progress.member,
                self.progress.epoch,
            )
            return
        if self.resume:
            log.warning("--resume: no %s yet, starting from scratch", last)
        if self.config.embedding_seed:
            self._seed_embeddings()
        self._build_optimiser()
        if self.model.ngrams is not None and self.placement.is_main:
            started = time.perf_counter()
            rows = self.train_split.subset(self.ngram_rows)
            self.progress.ngram_fit = fit_ngram_member(
                self.model.ngrams, rows, self.config.ngram_l2, self.model.token_chars
            )
            self.progress.ngram_fit["seconds"] = time.perf_counter() - started

    # ---- one epoch ----------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, float]:
        recurrent = self.ddp or self.member
        self.model.train()
        batches = bucketed_batches(
            self.train_split.lengths(),
            self.config.batch_size,
            self.config.bucket_batches,
            seed=self.config.seed + 1000 * self.progress.member + epoch,
        )
        batches = shard(batches, self.placement.rank, self.placement.world_size)
        bar = tqdm(
            make_batches(self.train_split, batches),
            total=len(batches),
            desc=f"member {self.progress.member} epoch {epoch}",
            disable=not self.placement.is_main,
            dynamic_ncols=True,
            mininterval=2.0,
        )
        loss_sum = correct = seen = rows = 0.0
        labels_count = self.model.spec.num_labels
        for batch in bar:
            ids = batch.input_ids.to(self.placement.device)
            labels = batch.labels.to(self.placement.device)
            mask = allowed_mask(batch.allowed, labels_count).to(self.placement.device)
            logits = recurrent(*self.model.member_inputs(self.progress.member, ids))
            soft = None if batch.soft is None else batch.soft.to(self.placement.device)
            loss = student_loss(
                logits,
                labels,
                mask,
                batch.weights.to(labels.device),
                soft,
                self.config.distill_weight,
                self.config.distill_temperature,
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # the optimiser has one parameter group: exactly the member's trainable weights
            # (a shared, frozen embedding is left out), so that is what gets clipped
            torch.nn.utils.clip_grad_norm_(
                self.optimizer.param_groups[0]["params"], self.config.grad_clip
            )
            self.optimizer.step()
            self.scheduler.step()
            self.progress.step += 1
            hard = labels >= 0  # transfer rows carry teacher logits only
            loss_sum += loss.item() * len(labels)
            rows += len(labels)
            predicted = logits.masked_fill(~mask, float("-inf")).argmax(1)
            correct += (predicted == labels)[hard].sum().item()
            seen += hard.sum().item()
            bar.set_postfix(
                loss=f"{loss_sum / rows:.4f}", acc=f"{correct / max(seen, 1):.4f}", refresh=False
            )
            if self.progress.step % STEP_LOG_EVERY == 0:
                self.progress.steps.append(
                    {
                        "step": self.progress.step,
                        "loss": loss.item(),
                        "lr": self.scheduler.get_last_lr()[0],
                    }
                )
        loss_sum, correct, seen, rows = distributed.all_reduce_sum(
            self.placement, [loss_sum, correct, seen, rows]
        )
        return {"train_loss": loss_sum / max(rows, 1), "train_accuracy": correct / max(seen, 1)}

    def validate(self) -> dict[str, float]:
        """Fit the mix on validation over the members trained so far (the n-gram member and
        recurrent members up to the current one), then score it file by file.

        `val_score`, which picks the best epoch, is the mean over files of their macro-averaged
        recall: a binary file and a three-label one count alike; a small file and a big one too,
        unless `val_score_weights` is "sqrt_rows" (`validation_score`).
        """
        members = member_logits(self.model, self.val_split, 128, self.placement.device)
        names = self.model.member_names
        active = [i for i, n in enumerate(names) if not n.startswith("recurrent")]
        active += list(range(min(self.progress.member + 1, self.model.spec.members)))
        if self.model.recurrent is None:
            active = list(range(len(members)))
        fit_mix(self.model, members, self.val_split, self.val_weights, sorted(active))
        logits = mixed(self.model, members, torch.tensor(self.val_split.lengths()))
        mask = allowed_mask(self.val_split.allowed, logits.size(1))
        targets = torch.tensor(self.val_split.labels)
        loss = masked_cross_entropy(logits, targets, mask, self.val_weights)
        result = {"val_loss": float(loss), **self._file_scores(logits)}
        result["val_score"] = validation_score(
            [result[f"val_{f.name}"] for f in self.val_files],
            [len(f) for f in self.val_files],
            self.config.val_score_weights,
        )
        for index in sorted(active):
            name = f"val_member_{names[index]}"
            result[name] = self._file_scores(members[index], mean_only=True)["mean"]
        return result

    def _file_scores(self, logits: torch.Tensor, mean_only: bool = False) -> dict[str, float]:
        """Macro recall of each validation file (over the labels that file uses)."""
        probabilities = torch.softmax(logits, dim=1).numpy()
        scores, start = {}, 0
        for split in self.val_files:
            stop = start + len(split)
            keep = labels_in(split.scored, logits.size(1))
            metrics = classification_metrics(
                probabilities[start:stop], np.asarray(split.labels), self.config.labels, keep
            )
            scores[f"val_{split.name}"] = metrics["macro_recall"]
            start = stop
        if mean_only:
            return {"mean": sum(scores.values()) / len(scores)}
        return scores

    # ---- bookkeeping --------------------------------------------------------------------
    def end_epoch(self, stats: dict[str, float]) -> bool:
        """Record the epoch, save checkpoints, and say whether to stop early."""
        self.progress.history.append(stats)
        if stats["val_score"] > self.progress.best_score:
            self.progress.best_score = stats["val_score"]
            self.progress.best_epoch = int(stats["epoch"])
            self.progress.stale_epochs = 0
            checkpoint.save(self.out / checkpoint.BEST, self.model, self.config, self.progress)
        else:
            self.progress.stale_epochs += 1
        self._save_last()
        log.info(
            "epoch %d: %s",
            stats["epoch"],
            ", ".join(f"{k} {v:.4f}" for k, v in stats.items() if k != "epoch"),
        )
        return self.progress.stale_epochs >= self.config.patience

    def _save_last(self) -> None:
        """The resumable state: weights, config, progress, optimiser and schedule."""
        checkpoint.save(
            self.out / checkpoint.LAST,
            self.model,
            self.config,
            self.progress,
            self.optimizer,
            self.scheduler,
        )

    def run_epochs(self) -> None:
        """Train the current member until its epochs run out or validation stops improving."""
        while self.progress.epoch < self.config.epochs:
            epoch = self.progress.epoch + 1
            started = time.perf_counter()
            stats: dict[str, float] = {"member": self.progress.member, "epoch": epoch}
            stats |= self.train_epoch(epoch)
            self.progress.epoch = epoch
            stop = False
            if self.placement.is_main:
                stats |= self.validate()
                stats["seconds"] = time.perf_counter() - started
                stats["lr"] = self.scheduler.get_last_lr()[0]
                stop = self.end_epoch(stats)
            if distributed.broadcast_flag(self.placement, stop):
                log.info("stopping early: no validation gain for %d epochs", self.config.patience)
                break

    def finish_member(self) -> None:
        """Keep the member's best epoch, then start the next member from a fresh optimiser."""
        distributed.barrier(self.placement)
        best = checkpoint.load(self.out / checkpoint.BEST)
        self.model.load_state_dict(best["model"])
        self.progress.member += 1
        self.progress.epoch = self.progress.best_epoch = self.progress.stale_epochs = 0
        self.progress.best_score = -1.0
        self._build_optimiser()
        if self.placement.is_main:
            self._save_last()

    def run(self) -> Path:
        try:
            self.prepare()
            self.restore_or_fit_ngrams()
            if self.model.recurrent is None and self.placement.is_main:
                # n-gram member alone: nothing iterative left to do
                self.progress.epoch = 1
                self.end_epoch({"member": 0, "epoch": 1, **self.validate()})
            while self.progress.member < len(self.model.recurrent or []):
                self.run_epochs()
                self.finish_member()
        finally:
            distributed.stop(self.placement)
        if self.placement.is_main:
            final = checkpoint.restore_progress(checkpoint.load(self.out / checkpoint.BEST))
            log.info(
                "best validation score %.4f (member %d, epoch %d); checkpoint %s",
                final.best_score,
                final.member,
                final.best_epoch,
                self.out / checkpoint.BEST,
            )
        return self.out / checkpoint.BEST


def validation_score(scores: list[float], sizes: list[int], weighting: str) -> float:
    """The number that picks the best epoch: the files' scores averaged alike ("files") or
    weighted by the square root of their sizes ("sqrt_rows")."""
    weights = [math.sqrt(n) for n in sizes] if weighting == "sqrt_rows" else [1.0] * len(sizes)
    return sum(s * w for s, w in zip(scores, weights, strict=True)) / sum(weights)


def data_record(split: FileSplit) -> dict[str, Any]:
    """What the model card says of one training file."""
    entry = split.entry
    return {
        "file": entry.file,
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        "labels": entry.labels,
        "weight": entry.weight,
        "ngram": entry.ngram,
        "licence": entry.licence,
    }


def train(config: TrainConfig, resume: bool = False) -> Path:
    return Trainer(config, resume).run()
