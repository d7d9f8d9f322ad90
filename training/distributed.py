"""Process setup shared by single-process and `torchrun` runs: device, threads, seeds, DDP.

`Placement` says where this process runs (device, rank among how many)."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass

import torch
import torch.distributed as dist

from model.runtime import usable_cpus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def choose_device(requested: str, local_rank: int) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def start(requested_device: str, threads: int, seed: int) -> Placement:
    """Pick the device, set threads and seeds, and join the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(requested_device, local_rank)
    per_process = max(1, usable_cpus() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    torch.set_num_threads(threads or per_process)
    if world_size > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        log.info("rank %d/%d joined (%s)", rank, world_size, backend)
    random.seed(seed)
    torch.manual_seed(seed)  # same initial weights on every rank
    return Placement(device, rank, world_size)


def barrier(placement: Placement) -> None:
    if placement.distributed:
        dist.barrier()


def broadcast_flag(placement: Placement, value: bool) -> bool:
    """Rank 0's decision (e.g. stop early), agreed by every rank."""
    if not placement.distributed:
        return value
    flag = torch.tensor([int(value)])
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def all_reduce_sum(placement: Placement, values: list[float]) -> list[float]:
    if not placement.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def stop(placement: Placement) -> None:
    if placement.distributed and dist.is_initialized():
        dist.destroy_process_group()
