"""`python -m bench <command> [options]`: the one entry point of the benchmark suite.

Each command is a module of this package with a `main()` that reads its own options
(`python -m bench <command> --help`); `python -m bench` lists them. `all` runs the whole suite,
each part in a process of its own.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module, what it measures)
COMMANDS: dict[str, tuple[str, str]] = {
    "all": ("bench.run_all", "the whole suite: model speed, quality, load, charts, goals"),
    "load": ("bench.load", "the services under load with wrk, beside the model alone"),
    "model-speed": ("bench.model_speed", "ONNX Runtime (and torch) over batch x length grids"),
    "gemm-peak": ("bench.gemm_peak", "the machine's fp32 GEMM peak, the yardstick of model speed"),
    "alternatives": ("bench.alternatives", "other architectures and tokenizers, trained alike"),
    "truncation": ("bench.truncation", "long reviews cut in different ways and lengths"),
    "soak": ("bench.soak", "minutes of steady load: memory, errors, latency drift"),
    "bodies": ("bench.bodies", "write request bodies from a test set for wrk"),
    "tokenize": ("bench.tokenize_speed", "tokenization per text, the lean path beside the full"),
    "directions": ("bench.directions", "one text at a time: LSTM directions on two threads"),
    "offline": ("bench.offline", "the model alone on a bodies file, no HTTP"),
    "profile": ("bench.profile", "py-spy native profiles under wrk, CPU by category"),
    "quality": ("bench.quality", "every system on every test set, texts/s, the behaviour suite"),
    "everyday": ("bench.everyday", "twenty everyday sentences through each system, side by side"),
    "protocols": ("bench.protocols", "/predict, TEI, v2 JSON, v2 binary, gRPC at 1/16/64 callers"),
    "language": ("bench.language", '"model": "auto": routing accuracy and cost per text'),
    "explain": ("bench.explain", "/explain latency and the deletion (faithfulness) test"),
    "drift": ("bench.drift", "the drift alerts: 10 minutes of normal traffic, then shifted"),
    "bulk": ("bench.bulk", "python -m app.bulk rows/s, local and on Ray"),
    "splitters": ("bench.splitters", "sentence-boundary accuracy of splitters, en and ko"),
    "sentences": ("bench.sentences", "per-sentence mode: cost, aggregate vs whole text, mixed"),
    "plots": ("bench.plots", "charts from the results"),
    "goals": ("bench.goals", "the goals table from the results"),
    "serving-goals": ("bench.serving_goals", "the speed issue's ratios from one named load run"),
    "report": ("bench.report", "the markdown tables of docs/benchmarks.md"),
}


def usage() -> str:
    lines = ["usage: python -m bench <command> [options]", "", "commands:"]
    lines += [f"  {name:<13} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    command = argv[0].replace("_", "-")
    if command not in COMMANDS:
        print(f"unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"python -m bench {command}", *argv[1:]]
    module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
