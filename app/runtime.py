"""ONNX Runtime sessions: which execution provider, how many threads, and how to run a batch.

Thread counts follow the CPUs this process may really use (cgroup quota and CPU affinity), never
the host's core count, which is what ORT would pick by itself inside a container.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
CGROUP_ROOT = Path("/sys/fs/cgroup")


class RuntimeSetupError(RuntimeError):
    """The requested execution provider or thread setting cannot be honoured."""


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs allowed by the cgroup quota (v2 `cpu.max`, else v1 cfs files); None = no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """The smaller of the CPU affinity set and the cgroup quota (rounded up), at least 1."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root)
    limit = affinity if quota is None else min(affinity, math.ceil(quota))
    return max(1, limit)


def default_intra_op_threads(cpus: int) -> int:
    """One CPU is left to the event loop and tokenizer; measured best on 2 CPUs (see settings)."""
    return max(1, cpus - 1)


def default_batch_workers(cpus: int, intra_op_threads: int) -> int:
    """Enough batches in flight that their threads together can use every CPU."""
    return max(1, cpus // intra_op_threads)


def choose_providers(setting: str) -> list[str]:
    """ORT provider list for `auto`, `cpu` or `cuda`; `cuda` fails now if this build lacks it."""
    built = ort.get_available_providers()
    if setting == "cpu":
        return [CPU]
    if setting == "cuda":
        if CUDA not in built:
            raise RuntimeSetupError(
                f"SENTIMENT_PROVIDERS=cuda but this onnxruntime build offers only {built}; "
                "install onnxruntime-gpu or use providers=auto/cpu"
            )
        return [CUDA, CPU]
    return [CUDA, CPU] if CUDA in built else [CPU]


@dataclass(frozen=True)
class RuntimeConfig:
    providers: str = "auto"  # auto, cpu or cuda
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    spinning: bool = False


@dataclass
class ModelRuntime:
    """One ORT session and the provider, variant and threads it really uses."""

    session: ort.InferenceSession
    provider: str
    variant: str
    intra_op_threads: int
    inter_op_threads: int

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """int64 ids [B, T] (0 = padding) -> float32 logits [B, C]."""
        return self.session.run(["logits"], {"input_ids": ids})[0]

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "variant": self.variant,
            "intra_op_threads": self.intra_op_threads,
            "inter_op_threads": self.inter_op_threads,
        }


def session_options(config: RuntimeConfig) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if config.spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.log_severity_level = 3  # errors only: ORT's warnings would break JSON log lines
    return options


def open_session(path: Path, variant: str, config: RuntimeConfig) -> ModelRuntime:
    """Create the session; with `cuda` asked for, refuse a silent fall-back to the CPU."""
    wanted = choose_providers(config.providers)
    # a self-hosted service sends nothing home: ONNX Runtime's telemetry events stay off (the
    # images also set ORT_DISABLE_TELEMETRY=1, which covers what happens before this call)
    ort.disable_telemetry_events()
    session = ort.InferenceSession(str(path), session_options(config), providers=wanted)
    used = session.get_providers()[0]
    if config.providers == "cuda" and used != CUDA:
        raise RuntimeSetupError(
            f"{path}: SENTIMENT_PROVIDERS=cuda but ONNX Runtime fell back to {used}; "
            "is a GPU visible to this process (CUDA and cuDNN libraries, device)?"
        )
    return ModelRuntime(session, used, variant, config.intra_op_threads, config.inter_op_threads)
