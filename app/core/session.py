"""The ONNX Runtime session of one bundle graph: execution provider, threads, and one batch run.

Thread counts follow the CPUs this process may really use (`model.runtime.usable_cpus`: cgroup
quota and affinity), never the host's core count, which is what ORT would pick by itself inside
a container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from model.runtime import CPU_PROVIDER, run_logits, session_options

CUDA_PROVIDER = "CUDAExecutionProvider"


class RuntimeSetupError(RuntimeError):
    """The requested execution provider or thread setting cannot be honoured."""


def default_intra_op_threads(cpus: int) -> int:
    """One CPU is left to the event loop and tokenizer: on 2 CPUs one ORT thread beat two both for
    batch-1 latency (0.90 vs 1.37 ms p50, IMDB review) and for batches (939 vs 764 seq/s at
    32 x 256)."""
    return max(1, cpus - 1)


def default_batch_workers(cpus: int, intra_op_threads: int) -> int:
    """Enough batches in flight that their threads together can use every CPU."""
    return max(1, cpus // intra_op_threads)


def choose_providers(setting: str) -> list[str]:
    """ORT provider list for `auto`, `cpu` or `cuda`; `cuda` fails now if this build lacks it."""
    built = ort.get_available_providers()
    if setting == "cpu":
        return [CPU_PROVIDER]
    if setting == "cuda":
        if CUDA_PROVIDER not in built:
            raise RuntimeSetupError(
                f"SENTIMENT_PROVIDERS=cuda but this onnxruntime build offers only {built}; "
                "install onnxruntime-gpu or use providers=auto/cpu"
            )
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in built else [CPU_PROVIDER]


@dataclass(frozen=True)
class RuntimeConfig:
    providers: str = "auto"  # auto, cpu or cuda
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    spinning: bool = False


@dataclass
class OnnxSession:
    """One ORT session on one graph, and the provider, variant and threads it really uses."""

    session: ort.InferenceSession
    provider: str
    variant: str
    intra_op_threads: int
    inter_op_threads: int

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """int64 ids [B, T] (0 = padding) -> float32 logits [B, C]."""
        return run_logits(self.session, ids)

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "variant": self.variant,
            "intra_op_threads": self.intra_op_threads,
            "inter_op_threads": self.inter_op_threads,
        }


def open_session(path: Path, variant: str, config: RuntimeConfig) -> OnnxSession:
    """Create the session; with `cuda` asked for, refuse a silent fall-back to the CPU."""
    wanted = choose_providers(config.providers)
    # a self-hosted service sends nothing home: ONNX Runtime's telemetry events stay off (the
    # images also set ORT_DISABLE_TELEMETRY=1, which covers what happens before this call)
    ort.disable_telemetry_events()
    options = session_options(config.intra_op_threads, config.inter_op_threads, config.spinning)
    session = ort.InferenceSession(str(path), options, providers=wanted)
    used = session.get_providers()[0]
    if config.providers == "cuda" and used != CUDA_PROVIDER:
        raise RuntimeSetupError(
            f"{path}: SENTIMENT_PROVIDERS=cuda but ONNX Runtime fell back to {used}; "
            "is a GPU visible to this process (CUDA and cuDNN libraries, device)?"
        )
    return OnnxSession(session, used, variant, config.intra_op_threads, config.inter_op_threads)
