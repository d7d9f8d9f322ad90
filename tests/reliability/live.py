"""Small helpers for tests against a real server process: its memory and its metrics."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.factories import REPO

# the shipped English model: slow enough per text (512 tokens) for a queue to form
SHIPPED = REPO / "model" / "bundles"
SHIPPED_ENV = {"SENTIMENT_DEFAULT_MODEL": "sentiment-en", "SENTIMENT_MODELS": "sentiment-en"}


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample.split("{")[0] != name:
            continue
        if all(f'{key}="{val}"' in sample for key, val in labels.items()):
            total += float(value)
    return total


async def texts_inferred(client: httpx.AsyncClient, model: str) -> float:
    """Texts that reached the model so far (the batch-size histogram's sum)."""
    metrics = (await client.get("/metrics")).text
    return metric_sum(metrics, "sentiment_batch_size_sum", model=model)
