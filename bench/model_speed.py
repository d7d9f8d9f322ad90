"""The model alone: ONNX Runtime fp32 and int8 against PyTorch eager on the same weights, by batch
size, sequence length and thread count; FLOP/s against a GEMM peak measured in the same run; and
the speed of smaller hidden sizes (random weights, same graph otherwise).

    python -m bench model-speed --bundle model/bundles/sentiment-en [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DEFAULT_BUNDLES, SCRATCH, load_average, loaded, write_json
from bench.flops import flops_per_token, gflops
from bench.gemm_peak import measure_peak

Runner = Callable[[np.ndarray], object]
GRIDS = {
    "quick": {"batches": [1, 32, 128], "lengths": [16, 128, 512], "seconds": 0.4},
    "full": {"batches": [1, 8, 32, 64, 128], "lengths": [16, 64, 128, 256, 512], "seconds": 1.5},
}


def ort_runner(path: Path, threads: int) -> Runner:
    """A session configured exactly as the service configures its own (app.core.session)."""
    from app.core.session import RuntimeConfig, open_session

    runtime = open_session(path, "bench", RuntimeConfig(providers="cpu", intra_op_threads=threads))
    return runtime.logits


def torch_runner(bundle: Path, threads: int) -> Runner:
    """PyTorch eager on the bundle's own weights (read back from its fp32 graph)."""
    import torch

    from training.onnx_import import load_torch_model

    model = load_torch_model(bundle)

    def run(ids: np.ndarray) -> object:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(ids))

    return run


MAX_CALL_S = 3.0  # a call slower than this ends the runtime's sweep (torch at 2 busy threads)


def round_times(run: Runner, ids: np.ndarray, seconds: float, max_rounds: int = 500) -> list[float]:
    """Seconds per call, after one warm-up call, for `seconds` or `max_rounds` calls; a warm-up
    slower than MAX_CALL_S is the only sample."""
    begin = time.perf_counter()
    run(ids)
    if time.perf_counter() - begin > MAX_CALL_S:
        return [time.perf_counter() - begin]
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_rounds and time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        run(ids)
        times.append(time.perf_counter() - begin)
    return times


def random_ids(vocab: int, batch: int, length: int) -> np.ndarray:
    """Full-length rows of real (non-special) ids: no padding, so every token is work."""
    return np.random.default_rng(0).integers(4, vocab, size=(batch, length), dtype=np.int64)


def point(run: Runner, arch: dict, batch: int, length: int, seconds: float) -> dict[str, Any]:
    record: dict[str, Any] = {"batch": batch, "length": length}
    with loaded(record):
        times = round_times(run, random_ids(arch["vocab_size"], batch, length), seconds)
    record["rounds"] = len(times)
    record["slow"] = max(times) > MAX_CALL_S
    record["seq_per_s"] = batch / statistics.median(times)  # typical
    record["seq_per_s_best"] = batch / min(times)  # what the cores can do: compared to the peak
    record["gflops"] = gflops(arch, record["seq_per_s_best"], length)
    return record


def runners(bundle: Path, threads: int, which: list[str]) -> dict[str, Runner]:
    made: dict[str, Runner] = {}
    if "ort-fp32" in which:
        made["ort-fp32"] = ort_runner(bundle / "model.onnx", threads)
    if "ort-int8" in which and (bundle / "model.int8.onnx").is_file():
        made["ort-int8"] = ort_runner(bundle / "model.int8.onnx", threads)
    if "torch-eager" in which:
        made["torch-eager"] = torch_runner(bundle, threads)
    return made


def grid(bundle: Path, arch: dict, threads: list[int], spec: dict, which: list[str]) -> list:
    points = []
    for count in threads:
        for name, run in runners(bundle, count, which).items():
            slow = False
            for batch in spec["batches"]:
                for length in spec["lengths"]:
                    if slow:
                        continue  # bigger points would only be slower still
                    record = {"runtime": name, "threads": count}
                    record |= point(run, arch, batch, length, spec["seconds"])
                    points.append(record)
                    slow = record["slow"]
                    print(
                        f"{name:11s} t={count} B={batch:3d} T={length:3d}: "
                        f"{record['seq_per_s']:9.1f} seq/s  {record['gflops']:6.1f} GFLOP/s  "
                        f"load {record['load_before']}",
                        flush=True,
                    )
    return points


SIZE_VARIANTS = {"E128 H128": (128, 128), "E128 H64": (128, 64), "E64 H64": (64, 64)}
SIZE_POINTS = [(1, 256), (32, 32), (32, 256)]


def export_variant(arch: dict, embed: int, hidden: int) -> tuple[Path, dict]:
    """A random-weight model of the bundle's architecture with other sizes (speed only)."""
    import torch

    from training.export import export_onnx
    from training.models import ModelSpec, SentimentClassifier
    from training.onnx_import import spec_from_manifest

    spec = dataclasses.replace(spec_from_manifest(arch), embed_dim=embed, hidden_dim=hidden)
    path = SCRATCH / "variants" / f"e{embed}-h{hidden}-{spec.ngram_buckets}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        export_onnx(SentimentClassifier(ModelSpec(**vars(spec))), random_ids(99, 2, 8), path, 17)
    return path, {**arch, "embed_dim": embed, "hidden_dim": hidden}


def size_variants(arch: dict, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for label, (embed, hidden) in SIZE_VARIANTS.items():
        path, variant = export_variant(arch, embed, hidden)
        run = ort_runner(path, 1)
        for batch, length in SIZE_POINTS:
            record = {"variant": label, "threads": 1, "flops_per_token": flops_per_token(variant)}
            record |= point(run, variant, batch, length, seconds)
            rows.append(record)
            print(f"size {label}: B={batch} T={length}: {record['seq_per_s']:.1f} seq/s")
    return rows


def summarise(points: list[dict], peak: dict[str, Any]) -> dict[str, Any]:
    """Best fp32 fraction of peak per thread count; ORT/torch and int8/fp32 speed ratios."""
    summary: dict[str, Any] = {"fraction_of_peak": {}, "ort_over_torch": {}, "int8_over_fp32": {}}
    for threads, probe in peak.items():
        fp32 = [p for p in points if p["runtime"] == "ort-fp32" and str(p["threads"]) == threads]
        if fp32:
            best = max(fp32, key=lambda p: p["gflops"])
            summary["fraction_of_peak"][threads] = {
                "gflops": round(best["gflops"], 1),
                "peak_gflops": probe["gflops"],
                "fraction": round(best["gflops"] / probe["gflops"], 3),
                "at": {"batch": best["batch"], "length": best["length"]},
            }
    by_key = {(p["runtime"], p["threads"], p["batch"], p["length"]): p for p in points}
    for (name, threads, batch, length), p in by_key.items():
        if name != "ort-fp32":
            continue
        key = f"t{threads} B{batch} T{length}"
        for other, slot in (("torch-eager", "ort_over_torch"), ("ort-int8", "int8_over_fp32")):
            q = by_key.get((other, threads, batch, length))
            if q is not None:
                ratio = p["seq_per_s"] / q["seq_per_s"]
                summary[slot][key] = round(ratio if other == "torch-eager" else 1 / ratio, 2)
    return summary


AGAINST_POINTS = [(32, 32), (32, 512)]


def side_by_side(bundle: Path, other: Path, threads: int, seconds: float) -> dict[str, Any]:
    """Full graphs (ORT fp32) of two bundles at batch 32, T = 32 and 512, alternated over three
    rounds so that the machine's drift hits both alike; the ratio is this bundle's median seq/s
    over the other's."""
    from model import load_bundle

    runs = {path: ort_runner(path / "model.onnx", threads) for path in (bundle, other)}
    archs = {path: load_bundle(path).manifest.architecture for path in (bundle, other)}
    result: dict[str, Any] = {"threads": threads, "points": []}
    for batch, length in AGAINST_POINTS:
        rates: dict[Path, list[float]] = {bundle: [], other: []}
        for _ in range(3):
            for path, run in runs.items():
                rates[path].append(point(run, archs[path], batch, length, seconds)["seq_per_s"])
        row = {
            "batch": batch,
            "length": length,
            "seq_per_s": statistics.median(rates[bundle]),
            "other_seq_per_s": statistics.median(rates[other]),
        }
        row["ratio"] = row["seq_per_s"] / row["other_seq_per_s"]
        result["points"].append(row)
        print(
            f"B={batch} T={length}: {row['seq_per_s']:.0f} vs {row['other_seq_per_s']:.0f} seq/s "
            f"= {row['ratio']:.2f}x ({bundle.name} vs {other})",
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLES / "sentiment-en")
    parser.add_argument("--quick", action="store_true", help="fewer points, shorter each")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runtimes", nargs="+", default=["ort-fp32", "ort-int8", "torch-eager"])
    parser.add_argument("--no-sizes", action="store_true", help="skip the hidden-size variants")
    parser.add_argument(
        "--against", type=Path, help="only compare full graphs with this bundle (B=32, T=32/512)"
    )
    args = parser.parse_args()
    from model import load_bundle

    if args.against:
        load_start = load_average()
        result = side_by_side(args.bundle, args.against, max(args.threads), 1.5)
        write_json(
            "model_speed_against",
            {
                **result,
                "load_start": load_start,
                "load_end": load_average(),
                "other": str(args.against),
            },
        )
        return

    spec = GRIDS["quick" if args.quick else "full"]
    arch = load_bundle(args.bundle).manifest.architecture
    load_start = load_average()
    peak = measure_peak(args.threads, seconds=spec["seconds"] * 8)
    points = grid(args.bundle, arch, args.threads, spec, args.runtimes)
    sizes = [] if args.no_sizes else size_variants(arch, spec["seconds"])
    peak_again = measure_peak(args.threads, seconds=spec["seconds"] * 8)
    for threads, probe in peak.items():  # the better of the probes before and after the grid
        probe["gflops"] = max(probe["gflops"], peak_again[threads]["gflops"])
    summary = summarise(points, peak)
    print("fraction of peak (ort fp32, best point):", summary["fraction_of_peak"])
    payload = {
        "bundle": str(args.bundle),
        "architecture": {k: arch[k] for k in ("arch", "embed_dim", "hidden_dim", "num_layers")},
        "flops_per_token": flops_per_token(arch),
        "peak": peak,
        "points": points,
        "sizes": sizes,
        "summary": summary,
        "load_start": load_start,
        "load_end": load_average(),
    }
    write_json("model_speed", payload)
    from bench.plots import plot_model_speed

    plot_model_speed(payload)


if __name__ == "__main__":
    main()
