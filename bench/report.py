"""Markdown tables of the last run's JSON, for docs/benchmarks.md: load, offline, accuracy,
model speed, hidden sizes. Writes bench/results/report.md.

    python -m bench report
"""

from __future__ import annotations

from typing import Any

from bench.common import RESULTS, offline_accuracy, read_json


def load_table(load: dict[str, Any]) -> list[str]:
    lines = [
        "| system | bodies | conns | req/s | p50 ms | p90 ms | p99 ms | errors | mean batch "
        "| CPU ms/req | RSS MB | load before→after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [r for s in load["systems"].values() for r in s["runs"]]
    for r in sorted(runs, key=lambda r: (r["bodies"], r["concurrency"])):
        lat = r["latency_ms"]
        lines.append(
            f"| {r['system']} | {r['bodies']} | {r['concurrency']} | {r['rps']:.0f} | "
            f"{lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | "
            f"{sum(r['errors'].values())} | {r.get('mean_batch', '-')} | "
            f"{r.get('cpu_ms_per_req', 0):.2f} | {r['rss_mb_peak']:.0f} | "
            f"{r['load_before']}→{r['load_after']} |"
        )
    return lines


def baseline_table(load: dict[str, Any]) -> list[str]:
    """The service against the `--baseline` checkout, point by point (same rounds)."""
    runs = {
        (r["system"], r["bodies"], r["concurrency"]): r
        for s in load["systems"].values()
        for r in s["runs"]
    }
    lines = [
        "| bodies | conns | baseline req/s | this req/s | ratio | baseline CPU ms/req | this CPU "
        "ms/req | baseline p99 ms | this p99 ms | this, batching off req/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (system, bodies, conns), old in sorted(runs.items(), key=lambda kv: kv[0][1:]):
        new = runs.get(("service", bodies, conns))
        if system != "baseline" or new is None:
            continue
        off = runs.get(("service-nobatch", bodies, conns), {"rps": float("nan")})
        lines.append(
            f"| {bodies} | {conns} | {old['rps']:.0f} | {new['rps']:.0f} | "
            f"{new['rps'] / old['rps']:.2f}x | {old.get('cpu_ms_per_req', 0):.2f} | "
            f"{new.get('cpu_ms_per_req', 0):.2f} | {old['latency_ms']['p99']:.1f} | "
            f"{new['latency_ms']['p99']:.1f} | {off['rps']:.0f} |"
        )
    return lines


def servers_table(load: dict[str, Any]) -> list[str]:
    lines = ["| system | ready (s) | RSS at ready (MB) |", "|---|---|---|"]
    for name, s in load["systems"].items():
        lines.append(f"| {name} | {s['ready_s']:.2f} | {s['rss_mb_ready']:.0f} |")
    return lines


def offline_table(load: dict[str, Any]) -> list[str]:
    lines = [
        "| bodies | when | ORT threads | model alone (seq/s) | tokenizer + model (seq/s) | load |",
        "|---|---|---|---|---|---|",
    ]
    rows = [
        (b, "in the 64-connection rounds", r) for b, r in load.get("offline_alongside", {}).items()
    ]
    rows += [(b, "after the load test", r) for b, rs in load.get("offline", {}).items() for r in rs]
    for bodies, when, r in rows:
        lines.append(
            f"| {bodies} | {when} | {r['threads']} | {r['model_seq_per_s']:.0f} | "
            f"{r['pipeline_seq_per_s']:.0f} | {r['load_before']}→{r['load_after']} |"
        )
    return lines


def accuracy_table(accuracy: dict[str, Any]) -> list[str]:
    sets = ["imdb", "sst2", "nsmc"]
    head = " | ".join(f"{s} acc. | {s} texts/s" for s in sets)
    lines = [f"| system | {head} |", "|---|" + "---|" * (2 * len(sets))]
    for name, rows in accuracy["systems"].items():
        cells = []
        for s in sets:
            r = rows.get(s)
            cells += [f"{100 * r['accuracy']:.2f}", f"{r['texts_per_s']:.0f}"] if r else ["-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def speed_table(speed: dict[str, Any]) -> list[str]:
    lines = [
        "| runtime | threads | batch | length | seq/s | GFLOP/s (best round) | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in speed["points"]:
        lines.append(
            f"| {p['runtime']} | {p['threads']} | {p['batch']} | {p['length']} | "
            f"{p['seq_per_s']:.0f} | {p['gflops']:.0f} | {p['load_before']} |"
        )
    return lines


def sizes_table(speed: dict[str, Any]) -> list[str]:
    lines = [
        "| embedding, hidden | MFLOP/token | batch | length | seq/s |",
        "|---|---|---|---|---|",
    ]
    for s in speed.get("sizes", []):
        lines.append(
            f"| {s['variant']} | {s['flops_per_token'] / 1e6:.3f} | {s['batch']} | "
            f"{s['length']} | {s['seq_per_s']:.0f} |"
        )
    return lines


def main() -> None:
    load, speed, accuracy = read_json("load"), read_json("model_speed"), offline_accuracy()
    parts: list[str] = []
    if load:
        parts += ["### Service under load", *load_table(load), ""]
        parts += ["### Against the baseline checkout", *baseline_table(load), ""]
        parts += ["### Start and memory"]
        parts += [*servers_table(load), "", "### Offline (no HTTP)", *offline_table(load), ""]
    if accuracy:
        parts += ["### Accuracy and offline speed (1 thread)", *accuracy_table(accuracy), ""]
    if speed:
        parts += [
            "### Model speed",
            *speed_table(speed),
            "",
            "### Hidden sizes (ORT fp32, 1 thread)",
        ]
        parts += [*sizes_table(speed), ""]
    text = "\n".join(parts)
    (RESULTS / "report.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
