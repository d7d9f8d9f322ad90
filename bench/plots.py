"""Charts from the JSON results: model speed, throughput vs concurrency, latency distribution,
accuracy vs throughput. Each benchmark script draws its own; this redraws all of them.

    python -m bench plots
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import RESULTS, offline_accuracy, read_json


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, name: str) -> Path:
    path = RESULTS / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    _pyplot().close(figure)
    print(f"wrote {path.name}")
    return path


def plot_model_speed(data: dict[str, Any]) -> Path:
    """Sequences/s by batch size, one panel per sequence length, a line per runtime+threads."""
    plt = _pyplot()
    points = data["points"]
    lengths = sorted({p["length"] for p in points})
    figure, axes = plt.subplots(1, len(lengths), figsize=(4 * len(lengths), 3.6), squeeze=False)
    series = sorted({(p["runtime"], p["threads"]) for p in points})
    for ax, length in zip(axes[0], lengths, strict=True):
        for runtime, threads in series:
            rows = [
                p
                for p in points
                if (p["runtime"], p["threads"], p["length"]) == (runtime, threads, length)
            ]
            rows.sort(key=lambda p: p["batch"])
            style = "-" if threads == 1 else "--"
            ax.plot(
                [p["batch"] for p in rows],
                [p["seq_per_s"] for p in rows],
                style,
                marker="o",
                label=f"{runtime} {threads}t",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"T = {length} tokens")
        ax.set_xlabel("batch size")
    axes[0][0].set_ylabel("sequences / s")
    axes[0][-1].legend(fontsize=7)
    return _save(figure, "model_speed")


def _runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for system in data["systems"].values() for r in system["runs"]]


def plot_throughput(data: dict[str, Any]) -> Path:
    """Requests/s against concurrency, one panel per body set, a line per system."""
    plt = _pyplot()
    runs = _runs(data)
    sets = sorted({r["bodies"] for r in runs})
    figure, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4), squeeze=False)
    for ax, bodies in zip(axes[0], sets, strict=True):
        for system in data["systems"]:
            rows = sorted(
                (r for r in runs if (r["system"], r["bodies"]) == (system, bodies)),
                key=lambda r: r["concurrency"],
            )
            if rows:
                ax.plot(
                    [r["concurrency"] for r in rows],
                    [r["rps"] for r in rows],
                    marker="o",
                    label=system,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrent connections (wrk)")
        ax.set_ylabel("requests / s")
        ax.set_title(f"{bodies} bodies")
        ax.legend(fontsize=8)
    return _save(figure, "load_throughput")


def plot_latency(data: dict[str, Any]) -> Path:
    """Latency percentiles (wrk), one panel per body set x concurrency, a line per system."""
    plt = _pyplot()
    runs = _runs(data)
    sets = sorted({r["bodies"] for r in runs})
    levels = sorted({r["concurrency"] for r in runs})
    figure, axes = plt.subplots(
        len(sets), len(levels), figsize=(4.2 * len(levels), 3.4 * len(sets)), squeeze=False
    )
    for i, bodies in enumerate(sets):
        for j, level in enumerate(levels):
            ax = axes[i][j]
            for r in runs:
                if (r["bodies"], r["concurrency"]) != (bodies, level):
                    continue
                pct = sorted((float(k[1:]), v) for k, v in r["latency_ms"].items() if k[0] == "p")
                ax.plot([p for p, _ in pct], [v for _, v in pct], marker=".", label=r["system"])
            ax.set_yscale("log")
            ax.set_title(f"{bodies}, {level} connections", fontsize=9)
            ax.set_xlabel("percentile")
            ax.set_ylabel("latency (ms)")
    axes[0][-1].legend(fontsize=7)
    return _save(figure, "load_latency")


# which accuracy row (bench quality) each served system shares: same model, other serving. The
# served TF-IDF + LR is fitted on the model's training file alone, quality's on the whole mix,
# so it has no row
SERVED_ACCURACY = {
    "service": "lstm (served, cascade)",
    "service-nobatch": "lstm (served, cascade)",
    "naive-torch": "lstm",
    "service-int8": "lstm int8",
}


def _served_points(accuracy: dict, load: dict | None, bodies: str) -> list[tuple]:
    points = []
    for system, record in (load or {}).get("systems", {}).items():
        row = accuracy["systems"].get(SERVED_ACCURACY.get(system, ""), {}).get(bodies)
        runs = [r for r in record["runs"] if r["bodies"] == bodies]
        if row and runs:
            best = max(runs, key=lambda r: r["rps"])
            points.append((f"{system} (HTTP)", best["rps"], 100 * row["accuracy"], "o"))
    return points


def plot_accuracy(accuracy: dict[str, Any], load: dict[str, Any] | None) -> Path:
    """Test accuracy against throughput: offline (one thread, no HTTP; hollow) and served at
    saturation (req/s, filled), one panel per English test set."""
    plt = _pyplot()
    load = load if load is not None else read_json("load")
    sets = [s for s in ("imdb", "sst2") if any(s in r for r in accuracy["systems"].values())]
    figure, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4.2), squeeze=False)
    for ax, bodies in zip(axes[0], sets, strict=True):
        for name, rows in accuracy["systems"].items():
            if bodies in rows:
                row = rows[bodies]
                ax.scatter(
                    row["texts_per_s"],
                    100 * row["accuracy"],
                    facecolors="none",
                    edgecolors="C0",
                    s=50,
                )
                ax.annotate(
                    f"{name} (offline)",
                    (row["texts_per_s"], 100 * row["accuracy"]),
                    fontsize=7,
                    xytext=(4, 2),
                    textcoords="offset points",
                )
        for label, x, y, marker in _served_points(accuracy, load, bodies):
            ax.scatter(x, y, marker=marker, color="C3", s=40)
            ax.annotate(label, (x, y), fontsize=7, xytext=(4, -9), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("texts / s (offline, bench quality) or req / s (served, best concurrency)")
        ax.set_ylabel(f"{bodies} test accuracy (%)")
        ax.set_title(f"accuracy vs throughput, {bodies}")
    return _save(figure, "accuracy_vs_throughput")


def main() -> None:
    """Redraw every chart whose JSON exists."""
    speed, load, accuracy = read_json("model_speed"), read_json("load"), offline_accuracy()
    if speed:
        plot_model_speed(speed)
    if load:
        plot_throughput(load)
        plot_latency(load)
    if accuracy:
        plot_accuracy(accuracy, load)


if __name__ == "__main__":
    main()
