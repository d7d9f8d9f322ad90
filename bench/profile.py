"""Where the service's CPU goes under load: py-spy native profiles under wrk, by category.

Starts the service, drives `/predict` with wrk (rotating real test-set bodies) and records with
`py-spy record --native` at the same time: an SVG flame graph and the collapsed stacks
(`--format raw`), which are then counted into categories (HTTP parsing, JSON, validation,
tokenization, queue hand-offs / wake-ups, ONNX Runtime, response building, ...); with
`--perf` also `perf record -g` and its top symbols (perf sees threads that never run Python, such
as a tokenizer pool; py-spy does not). Writes bench/results/profile-<bodies>[-tag].svg,
profile[-tag].json and profile_breakdown[-tag].png.

    python -m bench profile --bodies sst2 imdb [--seconds 16] [--perf] [--tag after]
    python -m bench profile --cwd /tmp/base --tag before   # another checkout of the service
    python -m bench profile --collapsed x.txt   # only count an existing collapsed-stack file
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, REPO, RESULTS, SCRATCH, load_average

# (category, substrings of a frame "function (file:line)"): a busy sample counts in the category
# of its innermost (leaf-most) frame that matches a rule, rules tried in this order per frame.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("garbage collection", ("gc_collect",)),
    ("ONNX Runtime", ("onnxruntime", "(app/core/session.py", "libgomp")),
    ("tokenization", ("(tokenizers/", "(model/text.py")),
    ("JSON (orjson)", ("orjson", "(json/")),
    (
        "validation (pydantic)",
        (
            "pydantic",
            "(app/http/parsing.py",
            "(app/http/compat.py",
            "(app/core/limits.py",
            "(app/http/schemas.py",
        ),
    ),
    (
        "response building",
        (
            "(starlette/responses.py",
            "(app/http/responses.py",
            "prediction (app/core/worker.py",
            "(app/core/context.py",
        ),
    ),
    ("access log and metrics", ("(logging/", "(app/ops/", "prometheus")),
    (
        "socket I/O syscalls",
        (
            "write (libc",
            "read (libc",
            "UVStream__try_write",
            "uv__read",
            "writev (libc",
            "send (libc",
            "recv (libc",
        ),
    ),
    ("HTTP parsing (httptools)", ("httptools", "llhttp", "(parser.c", "(h11/")),
    (
        "hand-offs and wake-ups",
        (
            "run_in_executor",
            "(concurrent/futures",
            "_queue_SimpleQueue",
            "sem_post",
            "futex",
            "pthread_cond_signal",
            "call_soon_threadsafe",
            "(asyncio/",
            "_asynciomodule",
            "FutureObj",
            "(app/core/waiting.py",
            "(app/core/batcher.py",
            "Loop__on_idle",
            "Handle__run",
            "loop___ensure_handle_data",
            "(loop.c",
        ),
    ),
    (
        "framework layers (Starlette, FastAPI, uvicorn)",
        ("(starlette/", "(fastapi/", "(uvicorn/", "(trace/", "(opentelemetry/"),
    ),
    ("scoring (numpy, Python)", ("(app/core/scoring.py", "numpy", "(model/runtime.py")),
    ("service Python (app/)", ("(app/",)),
]
OTHER = "interpreter and other native"
NAMES = [name for name, _ in CATEGORIES] + [OTHER]


def category(stack: list[str]) -> str:
    """The category of one busy sample: its innermost frame that matches a rule (leaf first)."""
    for frame in reversed(stack):
        for name, keys in CATEGORIES:
            if any(k in frame for k in keys):
                return name
    return OTHER


def state(stack: list[str]) -> str:
    """`idle` (a thread waiting for work: epoll on the loop, a batch thread on its queue, a
    tokenizer pool thread parked), `gil` (runnable but waiting to take the GIL back), else
    `busy`."""
    joined = ";".join(stack)
    leaf = ";".join(stack[-4:])
    if "epoll_pwait" in leaf or "epoll_wait" in leaf:
        return "idle"
    if "_queue_SimpleQueue_get" in joined and "_WorkItem.run" not in joined:
        return "idle"
    if "rayon" in joined and ("wait_until_cold" in joined or "sleep" in leaf):
        return "idle"
    if "PyEval_RestoreThread" in leaf or "take_gil" in leaf:
        return "gil"
    if "Condvar" in leaf and "LockLatch" in leaf:
        return "gil_or_pool"  # a tokenizer call waiting on its rayon pool
    return "busy"


def read_collapsed(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def breakdown(stacks: Counter[tuple[str, ...]]) -> dict[str, Any]:
    """Busy samples by category (idle and GIL-wait samples counted apart), per thread, and the
    top leaf frames."""
    cats: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = list(stack)
        thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else ""
        if thread:
            frames = frames[1:]
            thread = re.sub(r"\(\d+\)", "", thread).replace("thread : ", "").strip()
        kind = state(frames)
        states[kind] += n
        if kind == "gil_or_pool":
            cats["tokenization"] += n  # the batch thread inside encode_batch, its pool working
        elif kind != "busy":
            continue
        else:
            cats[category(frames)] += n
        threads[thread] += n
        leaves[frames[-1] if frames else "?"] += n
    busy = sum(cats.values())
    share = {k: round(100 * v / busy, 1) for k, v in cats.most_common()} if busy else {}
    return {
        "samples": dict(states),
        "busy_samples": busy,
        "percent_of_busy": share,
        "busy_by_thread": dict(threads.most_common(8)),
        "top_leaves": [[f, n] for f, n in leaves.most_common(25)],
    }


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = NAMES
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(results))
    for k, (label, result) in enumerate(results.items()):
        values = [result["breakdown"]["percent_of_busy"].get(n, 0.0) for n in names]
        ax.barh([i + k * width for i in range(len(names))], values, width, label=label)
    ax.set_yticks([i + width * (len(results) - 1) / 2 for i in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xlabel("% of busy CPU samples (py-spy --native, wrk 64 connections)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def perf_top(pid: str, bodies: str, seconds: float, top: int = 25) -> list[list]:
    """`perf record -g` of the service for `seconds`, then its top symbols by self time
    ([percent, shared object, symbol]); empty when perf is missing or not permitted."""
    if shutil.which("perf") is None:
        return []
    data = SCRATCH / f"perf-{bodies}.data"
    recorded = subprocess.run(
        ["perf", "record", "-F", "499", "-g", "-o", str(data), "-p", pid, "--", "sleep",
         str(seconds)], capture_output=True, text=True, timeout=seconds + 60,
    )  # fmt: skip
    if recorded.returncode != 0:
        return [["perf record failed", recorded.stderr[-300:]]]
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--stdio", "--sort", "dso,sym",
         "--percent-limit", "0.5", "-g", "none"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    rows = []
    for line in report.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].endswith("%"):
            rows.append([float(parts[0][:-1]), parts[1], parts[2].strip()])
    return rows[:top]


def profile_one(
    bodies: str,
    seconds: float,
    connections: int,
    env: dict[str, str],
    with_perf: bool = False,
    tag: str = "",
    cwd: Path | None = None,
) -> dict:
    from bench.bodies import write_bodies
    from bench.load import service_spec
    from bench.servers.launch import running_server
    from bench.wrk import run_wrk

    paths = write_bodies(DEFAULT_DATA, bodies, 1000, False)
    lua = SCRATCH / f"profile-{bodies}.lua"
    shutil.copy(paths["lua"], lua)
    spec = service_spec(f"profile-{bodies}", DEFAULT_BUNDLES.resolve(), cwd=cwd or REPO, **env)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    record: dict[str, Any] = {"bodies": bodies, "connections": connections, "env": env}
    with running_server(spec) as server:
        pid = str(server.process.pid)
        run_wrk(server.url + "/predict", lua, 16, 2.0)  # warm-up
        wrk_result: dict[str, Any] = {}

        def drive() -> None:
            wrk_result.update(
                run_wrk(server.url + "/predict", lua, connections, seconds + extra).as_dict()
            )

        extra = 4 + (min(8.0, seconds / 2) + 2 if with_perf else 0)
        driver = threading.Thread(target=drive)
        record["load_before"] = load_average()
        driver.start()
        outputs = {}
        for fmt in ("raw", "flamegraph"):
            ext = "txt" if fmt == "raw" else "svg"
            out = (SCRATCH if fmt == "raw" else RESULTS) / f"profile-{bodies}{tag}.{ext}"
            outputs[fmt] = out
            command = [py_spy, "record", "--native", "--threads",
                       "--rate", "250", "--format", fmt, "-o", str(out), "--pid", pid,
                       "--duration", str(int(seconds // 2))]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode != 0:
                raise RuntimeError(f"py-spy failed: {done.stderr[-800:]}")
        if with_perf:
            record["perf"] = perf_top(pid, bodies + tag, min(8.0, seconds / 2))
        driver.join()
        record["load_after"] = load_average()
    record["wrk"] = {k: wrk_result[k] for k in ("rps", "requests", "errors", "latency_ms")}
    record["breakdown"] = breakdown(read_collapsed(outputs["raw"]))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs="+", default=["sst2", "imdb"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the service")
    parser.add_argument("--collapsed", type=Path, help="only count this collapsed-stack file")
    parser.add_argument("--perf", action="store_true", help="also `perf record -g`: top symbols")
    parser.add_argument("--tag", default="", help="suffix of the output files")
    parser.add_argument("--cwd", type=Path, help="another checkout of the service to profile")
    args = parser.parse_args()
    if args.collapsed:
        print(json.dumps(breakdown(read_collapsed(args.collapsed)), indent=1))
        return
    env = dict(item.split("=", 1) for item in args.env)
    results = {}
    for bodies in args.bodies:
        tag = f"-{args.tag}" if args.tag else ""
        record = profile_one(bodies, args.seconds, args.connections, env, args.perf, tag, args.cwd)
        results[bodies] = record
        b = record["breakdown"]
        print(f"{bodies}: {record['wrk']['rps']:.0f} req/s, load {record['load_before']}"
              f"->{record['load_after']}, samples {b['samples']}")  # fmt: skip
        for name, pct in b["percent_of_busy"].items():
            print(f"  {name:32s} {pct:5.1f} %")
    (RESULTS / f"profile{tag}.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, RESULTS / f"profile_breakdown{tag}.png")


if __name__ == "__main__":
    main()
