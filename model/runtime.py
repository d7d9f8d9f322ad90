"""Runtime facts every half shares: a bundle graph's tensor names, softmax, the CPUs this process
may really use, and the CPU ONNX Runtime session.

`app/` (serving), `training/` (export checks, evaluation) and `bench/` all run bundle graphs; they
take these from here so that a name or a thread rule is written once. Imports onnxruntime lazily:
the `model` package itself stays loadable without it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime as ort

# Every graph of a bundle (model.onnx, model.int8.onnx, the cascade's fast.onnx):
# input int64 [batch, sequence] token ids (0 = padding) -> float32 [batch, labels] logits.
INPUT_NAME = "input_ids"
OUTPUT_NAME = "logits"
CPU_PROVIDER = "CPUExecutionProvider"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Logits [N, C] -> probabilities [N, C], row by row, in the input's precision.

    The row maximum is subtracted first so that exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


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


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """The smaller of the CPU affinity set and the cgroup quota (rounded up), at least 1.

    ONNX Runtime and torch would otherwise size their thread pools from the host's cores, which
    inside a container can be many times what the process may use."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root)
    limit = affinity if quota is None else min(affinity, math.ceil(quota))
    return max(1, limit)


def session_options(
    intra_op_threads: int, inter_op_threads: int = 1, spinning: bool = False
) -> ort.SessionOptions:
    """Sequential execution (the graphs are one chain of ops), every graph optimisation, and
    idle threads that sleep unless `spinning`: spinning threads halved throughput on 2 CPUs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.log_severity_level = 3  # errors only: ORT's warnings would break JSON log lines
    return options


def cpu_session(path: Path | str, threads: int = 1) -> ort.InferenceSession:
    """A CPU session on one graph file; `threads` 0 = every usable CPU."""
    import onnxruntime as ort

    options = session_options(threads or usable_cpus())
    return ort.InferenceSession(str(path), options, providers=[CPU_PROVIDER])


def run_logits(session: ort.InferenceSession, ids: np.ndarray) -> np.ndarray:
    """int64 ids [B, T] (0 = padding) -> float32 logits [B, C]."""
    return session.run([OUTPUT_NAME], {INPUT_NAME: ids})[0]
