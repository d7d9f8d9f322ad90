"""The ONNX Runtime session of one bundle graph: execution provider, threads, and one batch run.

Thread counts follow the CPUs this process may really use (`model.runtime.usable_cpus`: cgroup
quota and affinity), never the host's core count, which is what ORT would pick by itself inside
a container.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort

from app.core.direction_split import DirectionSplit
from model.runtime import CPU_PROVIDER, run_logits, session_options, usable_cpus

log = logging.getLogger(__name__)

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
    # a lone one-text batch of at least this many tokens runs its two LSTM directions on two
    # threads (app/core/direction_split.py, RunGauge); None = never
    split_min_tokens: int | None = None


class Siblings(Protocol):
    """The other server processes' request counts (app/ops/shared_runs.py)."""

    def publish(self, requests: int) -> None: ...

    def others_busy(self) -> bool: ...


class RunGauge:
    """Requests being scored in this process (`request`, counted by the model workers) and,
    with `siblings`, in the other server processes. A batch of one text while it is the only
    request anywhere may take a second CPU for its other LSTM direction (`may_split`, per
    thread: the batch thread that scores it asks). Any other request in flight means the CPUs
    have other work: its HTTP parsing and tokenizing on the event loop, its batch, another
    process's. Counting batches instead let a lone batch split while three other callers'
    requests were being parsed, and four callers got 2-5% fewer reviews through."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._local = threading.local()
        self.siblings: Siblings | None = None

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count one request for as long as it uses a model."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1)

    @contextmanager
    def batch(self, texts: int) -> Iterator[None]:
        """Mark the calling thread as scoring a batch of `texts` texts."""
        others = self.siblings is not None and self.siblings.others_busy()
        self._local.may_split = texts == 1 and self._requests <= 1 and not others
        try:
            yield
        finally:
            self._local.may_split = False

    def may_split(self) -> bool:
        """Whether the calling thread scores a lone one-text batch (False outside any batch)."""
        return getattr(self._local, "may_split", False)

    def _add(self, change: int) -> None:
        with self._lock:
            self._requests += change
            if self.siblings is not None:
                self.siblings.publish(self._requests)


RUNS = RunGauge()


@dataclass
class OnnxSession:
    """One ORT session on one graph, and the provider, variant and threads it really uses."""

    session: ort.InferenceSession
    provider: str
    variant: str
    intra_op_threads: int
    inter_op_threads: int
    split: DirectionSplit | None = None
    split_min_tokens: int = 0
    split_runs: int = 0  # texts that took the cut graph (one at a time: no lock needed)

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """int64 ids [B, T] (0 = padding) -> float32 logits [B, C]."""
        if self.split is not None and self._splits(ids):
            self.split_runs += 1
            return self.split.logits(ids)
        return run_logits(self.session, ids)

    def _splits(self, ids: np.ndarray) -> bool:
        one_row, long_enough = ids.shape[0] == 1, ids.shape[1] >= self.split_min_tokens
        return one_row and long_enough and RUNS.may_split()

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "variant": self.variant,
            "intra_op_threads": self.intra_op_threads,
            "inter_op_threads": self.inter_op_threads,
            "split_directions": self.split is not None,
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
    opened = OnnxSession(session, used, variant, config.intra_op_threads, config.inter_op_threads)
    if config.split_min_tokens is not None and used == CPU_PROVIDER:
        opened.split = open_split(path, config, session)
        opened.split_min_tokens = config.split_min_tokens
    return opened


# rows the cut graph must answer exactly as the whole one before it is used (ids 1-3 exist in
# every vocabulary; lengths on both sides of any bucket)
PARITY_LENGTHS = (1, 7, 64)


def open_split(
    path: Path, config: RuntimeConfig, whole: ort.InferenceSession
) -> DirectionSplit | None:
    """The graph's directions on two threads, when a second CPU exists and the cut graph gives
    the whole graph's logits exactly; otherwise None (said in the log)."""
    if usable_cpus() <= config.intra_op_threads:
        return None  # no CPU for the second direction
    split = DirectionSplit.open(
        path, lambda: session_options(config.intra_op_threads, 1, config.spinning)
    )
    if split is None:
        log.info("%s: no pair of LSTM directions to run apart; each text runs whole", path)
        return None
    for length in PARITY_LENGTHS:
        ids = (np.arange(length, dtype=np.int64) % 3 + 1)[None, :]
        if not np.array_equal(split.logits(ids), run_logits(whole, ids)):
            log.warning("%s: the cut graph's logits differ from the whole graph's; not used", path)
            return None
    return split
