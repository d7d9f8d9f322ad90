"""bench profile: collapsed py-spy stacks counted into categories."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.profile import breakdown, category, read_collapsed, state

pytestmark = pytest.mark.unit

LOOP = "thread (1): MainThread;Server.run (uvicorn/server.py:86)"
BATCH = "thread (2): batch-sentiment-en_0;_worker (concurrent/futures/thread.py:81)"
IDLE_LOOP = f"{LOOP};uv__io_poll (linux.c:1452);epoll_pwait (libc.so.6)"
IDLE_BATCH = f"{BATCH};_queue_SimpleQueue_get (_queuemodule.c.h:177);0x7f (libc.so.6)"
RUN = f"{BATCH};_WorkItem.run (concurrent/futures/thread.py:58)"
ORT = f"{RUN};Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:406);0x7f (libc)"
GIL = f"{RUN};ModelWorker._encode_pending (app/core/worker.py:253);PyEval_RestoreThread (x.so)"
GC = f"{LOOP};prediction (app/core/worker.py:77);gc_collect_main (libpython3.11.so.1.0)"
TOKENIZE = f"{LOOP};TextEncoder.encode (model/text.py:101);match_at (tokenizers/tokenizers.abi3.so)"


def test_the_innermost_known_frame_decides() -> None:
    assert category(ORT.split(";")[1:]) == "ONNX Runtime"
    assert category(GC.split(";")[1:]) == "garbage collection"  # not response building
    assert category(TOKENIZE.split(";")[1:]) == "tokenization"


def test_waiting_threads_are_not_busy() -> None:
    assert state(IDLE_LOOP.split(";")[1:]) == "idle"
    assert state(IDLE_BATCH.split(";")[1:]) == "idle"
    assert state(GIL.split(";")[1:]) == "gil"
    assert state(ORT.split(";")[1:]) == "busy"


def test_breakdown_counts_busy_samples_by_category_and_thread(tmp_path: Path) -> None:
    raw = tmp_path / "x.txt"
    lines = [(IDLE_LOOP, 50), (IDLE_BATCH, 40), (ORT, 30), (GIL, 5), (GC, 10), (TOKENIZE, 60)]
    raw.write_text("".join(f"{stack} {n}\n" for stack, n in lines))
    stacks = read_collapsed(raw)
    assert stacks == Counter({tuple(s.split(";")): n for s, n in lines})
    result = breakdown(stacks)
    assert result["samples"] == {"idle": 90, "busy": 100, "gil": 5}
    assert result["percent_of_busy"] == {"tokenization": 60.0, "ONNX Runtime": 30.0,
                                         "garbage collection": 10.0}  # fmt: skip
    assert result["busy_by_thread"] == {"MainThread": 70, "batch-sentiment-en_0": 30}
