"""What every benchmark script shares: paths, the machine's load, result files, test texts.

Every measurement records the load average before and after it, since this 2-core machine is
shared with training runs: a noisy figure must be recognisable from its JSON alone.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SCRATCH = RESULTS / "tmp"  # git-ignored: logs, cached baselines, generated Lua
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_BUNDLES = REPO / "model" / "bundles"


@dataclass(frozen=True)
class TestSet:
    """One official test split: which file, how to read it, which model answers it."""

    name: str
    path: str  # relative to the data dir
    model: str  # bundle name
    empty_text: str = "error"


TEST_SETS = {
    "imdb": TestSet("imdb", "imdb/test.tsv.gz", "sentiment-en"),
    "sst2": TestSet("sst2", "sst2/sent_test.tsv.gz", "sentiment-en"),
    "nsmc": TestSet("nsmc", "nsmc/ratings_test.txt.gz", "sentiment-ko", "skip"),
}
TRAIN_FILES = {
    "sentiment-en": "imdb/train.tsv.gz",
    "sentiment-ko": "nsmc/ratings_train.txt.gz",
}


# the quality reports' test sets that the load test's bodies come from, by their short names
QUALITY_SETS = {"imdb-test": "imdb", "sst2-sent_test": "sst2", "nsmc-ratings_test": "nsmc"}


def offline_accuracy() -> dict[str, Any] | None:
    """{"systems": {system: {imdb|sst2|nsmc: {accuracy, texts_per_s}}}} from the last
    `bench quality` reports (quality-en.json, quality-ko.json); the bundle's name reads "lstm"."""
    systems: dict[str, dict[str, Any]] = {}
    for language in ("en", "ko"):
        report = read_json(f"quality-{language}") or {"sets": {}}
        for set_name, rows in report["sets"].items():
            for system, record in rows.items() if set_name in QUALITY_SETS else ():
                name = system.replace(report["bundle"], "lstm").lower()
                if "texts_per_s" not in record:  # reports written before speed was recorded
                    record = {**record, "texts_per_s": record["n"] / record["seconds"]}
                systems.setdefault(name, {})[QUALITY_SETS[set_name]] = record
    return {"systems": systems} if systems else None


def load_average() -> float:
    """The 1-minute load average (2.0 = both cores busy)."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "gpu": "none lent to this task; every figure is CPU only",
    }


@contextmanager
def loaded(record: dict[str, Any]) -> Iterator[None]:
    """Adds `load_before` and `load_after` (1-minute load average) around a measurement."""
    record["load_before"] = load_average()
    try:
        yield
    finally:
        record["load_after"] = load_average()


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": machine(), "written": time.strftime("%Y-%m-%d %H:%M:%S"), **payload}
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    return path


def read_json(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def read_test_set(data_dir: Path, name: str, limit: int | None = None) -> tuple[list, list]:
    """Texts and labels of a test split; `limit` draws a fixed random sample (seed 0)."""
    from training.data import ReadOptions, read_labelled

    spec = TEST_SETS[name]
    data = read_labelled(data_dir / spec.path, ReadOptions(empty_text=spec.empty_text))
    indices = list(range(len(data)))
    if limit is not None and limit < len(indices):
        indices = sorted(random.Random(0).sample(indices, limit))
    return [data.texts[i] for i in indices], [data.labels[i] for i in indices]


def read_train_set(data_dir: Path, model: str, limit: int | None = None) -> tuple[list, list]:
    from training.data import ReadOptions, read_labelled

    data = read_labelled(data_dir / TRAIN_FILES[model], ReadOptions(empty_text="skip"))
    texts, labels = data.texts, data.labels
    if limit is not None and limit < len(texts):
        keep = sorted(random.Random(0).sample(range(len(texts)), limit))
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    return texts, labels
