"""PNGs of bench.quality's report: scores per test set and behaviour pass rates, per system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _grouped_bars(
    groups: list[str], systems: list[str], values: np.ndarray, title: str, ylabel: str, path: Path
) -> Path:
    """values [group, system] in percent."""
    figure, axes = plt.subplots(figsize=(max(8, 1.3 * len(groups) + 2), 4.8))
    width = 0.8 / len(systems)
    x = np.arange(len(groups))
    for k, name in enumerate(systems):
        bars = axes.bar(x + (k - (len(systems) - 1) / 2) * width, values[:, k], width, label=name)
        axes.bar_label(bars, fmt="%.0f", fontsize=6, padding=1)
    axes.set_xticks(x, groups, rotation=25, ha="right", fontsize=8)
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 105)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def sets_png(report: dict[str, Any], path: Path) -> Path:
    """Macro recall for three-label sets (TweetEval's official score), accuracy for the rest."""
    sets = list(report["sets"])
    systems = list(next(iter(report["sets"].values())))
    values = np.zeros((len(sets), len(systems)))
    for i, name in enumerate(sets):
        for k, system in enumerate(systems):
            metrics = report["sets"][name][system]
            key = "macro_recall" if len(metrics["labels"]) > 2 else "accuracy"
            values[i, k] = 100 * metrics[key]
    title = f"{report['bundle']} {report['version']}: macro recall (3 labels) / accuracy (binary)"
    return _grouped_bars(sets, systems, values, title, "%", path)


def behaviour_png(report: dict[str, Any], path: Path) -> Path:
    systems = list(report["behaviour"])
    capabilities = list(report["behaviour"][systems[0]])
    values = np.zeros((len(capabilities), len(systems)))
    for k, system in enumerate(systems):
        for i, capability in enumerate(capabilities):
            cell = report["behaviour"][system][capability]
            values[i, k] = 100 * cell["passed"] / cell["total"]
    title = f"behaviour suite ({report['bundle']}): pass rate per capability"
    return _grouped_bars(capabilities, systems, values, title, "% of cases passed", path)
