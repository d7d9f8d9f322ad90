"""`python -m bench drift`: the drift alerts of deploy/monitoring/rules.yml against a real
service and a real Prometheus (Debian's package), with the shipped rules unchanged.

1. normal: both shipped models get a mixed sample of their own validation rows (the rows their
   baselines were measured on) for `--normal-minutes` (default 10): no drift alert may turn
   pending or firing; the largest distances from the baseline are recorded.
2. shifted: sentiment-en gets Korean reviews (NSMC test) and sentiment-ko only the negative
   ones, for at most `--shift-minutes`: the time until each drift alert fires is recorded.

Traffic is paced (`--rate` requests/s per model, 8 texts each) and goes to 127.0.0.1 only.
The same pieces serve the fast end-to-end test (tests/deploy/test_drift_alerts.py), which runs
the rules with shortened windows (`shortened_rules`).
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.common import DEFAULT_DATA, REPO, SCRATCH, read_test_set, write_json
from bench.servers.launch import ServerSpec, free_port, running_server

MONITORING = REPO / "deploy" / "monitoring"
RULES = MONITORING / "rules.yml"
CONFIGS = {"sentiment-en": "configs/sentiment-en.toml", "sentiment-ko": "configs/sentiment-ko.toml"}
DRIFT_ALERTS = ("SentimentLabelMixDrift", "SentimentConfidenceDrop")
TEXTS_PER_REQUEST = 8


def validation_sample(model: str, count: int, data_dir: Path = DEFAULT_DATA) -> list[str]:
    """`count` texts drawn at random (seed 0) from the validation rows the model's baseline was
    measured on, pooled over its files as the baseline pools them."""
    from training.config import build_config
    from training.prepare import read_training_files

    config = build_config(str(REPO / CONFIGS[model]), {"data_dir": str(data_dir)})
    texts = [t for split in read_training_files(config) for t in split.validation.texts]
    return random.Random(0).sample(texts, min(count, len(texts)))


def korean_reviews(
    count: int, data_dir: Path = DEFAULT_DATA, label: int | None = None
) -> list[str]:
    """NSMC test reviews (label 0: negative only), a fixed random sample."""
    texts, labels = read_test_set(data_dir, "nsmc")
    chosen = [t for t, y in zip(texts, labels, strict=True) if label is None or y == label]
    return random.Random(0).sample(chosen, min(count, len(chosen)))


def english_sentences(count: int, data_dir: Path = DEFAULT_DATA) -> list[str]:
    """SST-2 test sentences, a fixed random sample: English text for the Korean model (its mean
    confidence falls ~0.12 below its baseline, over SentimentConfidenceDrop's 0.1 margin)."""
    texts, _ = read_test_set(data_dir, "sst2")
    return random.Random(0).sample(texts, min(count, len(texts)))


def shortened_rules(window: str, hold: str) -> str:
    """rules.yml with the drift windows cut to `window` and their `for:` to `hold`, for tests;
    every other rule and every expression is the shipped one."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for group in groups:
        if not group["name"].startswith("sentiment-drift"):
            continue
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace("[10m]", f"[{window}]")
            if "for" in rule:
                rule["for"] = hold
    return yaml.safe_dump({"groups": groups}, sort_keys=False)


@contextmanager
def prometheus(target: str, folder: Path, rules: str, interval: str = "1s") -> Iterator[str]:
    """A real Prometheus scraping `target` every `interval` and evaluating `rules` (YAML)."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yml").write_text(rules)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        shutil.which("prometheus") or "prometheus",
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # bounded: 30 s
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def query(prometheus_url: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expression}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def drift_alerts(prometheus_url: str) -> list[tuple[str, str, str]]:
    """(alert, model, state) of every drift alert pending or firing now."""
    answer = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=10).json()
    return [
        (a["labels"]["alertname"], a["labels"].get("model", ""), a["state"])
        for a in answer["data"]["alerts"]
        if a["labels"]["alertname"] in DRIFT_ALERTS
    ]


class Traffic:
    """Paced /predict requests of `TEXTS_PER_REQUEST` texts to one model, in a thread, cycling
    through `texts`, until `stop()`; counts the texts answered."""

    def __init__(self, url: str, model: str, texts: Sequence[str], rate: float) -> None:
        self.url, self.model, self.texts, self.rate = url, model, list(texts), rate
        self.answered = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{model}", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        chunks = itertools.cycle(
            [
                self.texts[i : i + TEXTS_PER_REQUEST]
                for i in range(0, len(self.texts), TEXTS_PER_REQUEST)
            ]
        )
        pause = 1 / self.rate
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                texts = next(chunks)
                answer = client.post("/predict", json={"texts": texts, "model": self.model})
                if answer.status_code == 200:
                    self.answered += len(texts)
                else:
                    self.failed += 1
                self._stop.wait(max(0.0, pause - (time.monotonic() - started)))


DISTANCES = {
    "label_share": "max by (model) (abs(sentiment:label_share:baseline_delta10m))",
    "confidence_drop": "sentiment:confidence:baseline_drop10m",
    "answers_10m": "sentiment:predictions:increase10m",
}


def distances(prometheus_url: str) -> dict[str, dict[str, float]]:
    """Per model: the largest |share - baseline| over labels, the confidence drop, and the
    answers in the window, as the recording rules say now."""
    found: dict[str, dict[str, float]] = {}
    for name, expression in DISTANCES.items():
        for series in query(prometheus_url, expression):
            found.setdefault(series["metric"]["model"], {})[name] = float(series["value"][1])
    return found


def watch(prometheus_url: str, seconds: float, every_s: float, stop_when_firing: bool) -> dict:
    """Poll the distances and the drift alerts for `seconds`: the worst distance per model, and
    when each (alert, model) first turned pending and firing (seconds from the start)."""
    started = time.monotonic()
    worst: dict[str, dict[str, float]] = {}
    seen: dict[str, dict[str, float]] = {}
    while time.monotonic() - started < seconds:
        now = round(time.monotonic() - started, 1)
        for model, values in distances(prometheus_url).items():
            for name, value in values.items():
                worst.setdefault(model, {})[name] = max(
                    worst.get(model, {}).get(name, value), value
                )
        for alert, model, state in drift_alerts(prometheus_url):
            seen.setdefault(f"{alert} {model}", {}).setdefault(state, now)
        print(f"{now:7.1f} s  {distances(prometheus_url)}  alerts {seen}", flush=True)
        firing = {key for key, states in seen.items() if "firing" in states}
        if stop_when_firing and len(firing) >= 3:  # en: both alerts; ko: the label mix
            break
        time.sleep(every_s)
    return {"worst": worst, "alerts": seen, "seconds": round(time.monotonic() - started, 1)}


def run(normal_minutes: float, shift_minutes: float, rate: float, data_dir: Path) -> dict:
    normal = {m: validation_sample(m, 4000, data_dir) for m in CONFIGS}
    shifted = {
        "sentiment-en": korean_reviews(4000, data_dir),
        "sentiment-ko": korean_reviews(4000, data_dir, label=0),
    }
    spec = ServerSpec("drift", [sys.executable, "-m", "app"], {"SENTIMENT_ACCESS_LOG": "false"})
    folder = SCRATCH / "drift-prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    with (
        running_server(spec) as server,
        prometheus(server.url.removeprefix("http://"), folder, RULES.read_text(), "5s") as prom,
    ):
        results: dict[str, Any] = {}
        for phase, texts, minutes in (
            ("normal", normal, normal_minutes),
            ("shifted", shifted, shift_minutes),
        ):
            senders = [Traffic(server.url, m, t, rate) for m, t in texts.items()]
            for sender in senders:
                sender.__enter__()
            try:
                results[phase] = watch(prom, minutes * 60, 15, stop_when_firing=phase == "shifted")
            finally:
                for sender in senders:
                    sender.stop()
            results[phase]["texts"] = {s.model: s.answered for s in senders}
            results[phase]["failed_requests"] = sum(s.failed for s in senders)
    return results


def main() -> None:
    # SIGTERM ends the run like Ctrl-C: the server and Prometheus are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--normal-minutes", type=float, default=10)
    parser.add_argument("--shift-minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=4, help="requests/s per model (8 texts)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    results = run(args.normal_minutes, args.shift_minutes, args.rate, args.data)
    settings = {"normal_minutes": args.normal_minutes, "shift_minutes": args.shift_minutes,
                "rate_per_model": args.rate, "texts_per_request": TEXTS_PER_REQUEST}  # fmt: skip
    write_json("drift", {"settings": settings, **results})
    quiet = not results["normal"]["alerts"]
    print(f"normal run quiet: {quiet}; shifted alerts: {results['shifted']['alerts']}")
