"""/explain with the shipped model: latency at concurrency 1, and the deletion test.

    python -m bench.explain [--data ../shared/data] [--faithfulness 100]

Starts `python -m app` on 127.0.0.1 (model/bundles), then:
- latency: a tweet, a sentence and an IMDB review of median length, each sent one request at a
  time over one keep-alive connection (bounded: a count and a time budget per text), p50/p99,
  beside /predict for the same text;
- faithfulness: the deletion test of bench.faithfulness on real IMDB reviews and tweets.
Writes bench/results/explain.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, loaded, write_json
from bench.faithfulness import (
    read_texts,
    real_texts,
    single_cases,
    summary,
    target_label,
    top_k_cases,
)
from bench.servers.launch import ServerSpec, running_server

ROUNDS = {"tweet": 200, "sentence": 200, "imdb_review": 40}
BUDGET_S = 60.0  # per text and route: stop early when a loop would take longer


class Client:
    """One keep-alive HTTP/1.1 connection; JSON in, JSON out."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def _send(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json"}
        try:
            self.connection.request("POST", path, json.dumps(body), headers)
            return self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.connection.close()  # the server ended an idle keep-alive connection: reopen
            self.connection.request("POST", path, json.dumps(body), headers)
            return self.connection.getresponse()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._send(path, body)
        data = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data}")
        return data


def sample_texts(data_dir: Path) -> dict[str, str]:
    """A fixed tweet, SST-2 sentence and IMDB review of median length (seed 0)."""
    rng = random.Random(0)
    reviews = sorted(read_texts(data_dir / "imdb" / "test.tsv.gz", 25_000, 100_000), key=len)
    return {
        "tweet": rng.choice(read_texts(data_dir / "tweeteval" / "test.tsv.gz", 12_000, 400)),
        "sentence": rng.choice(read_texts(data_dir / "sst2" / "sent_test.tsv.gz", 2_000, 400)),
        "imdb_review": reviews[len(reviews) // 2],
    }


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 2),
    }


def timed_loop(client: Client, path: str, text: str, rounds: int) -> dict[str, float]:
    for _ in range(3):
        client.post(path, {"text": text})  # warm-up: arena growth, first-call costs
    seconds: list[float] = []
    started = time.perf_counter()
    while len(seconds) < rounds and time.perf_counter() - started < BUDGET_S:
        begin = time.perf_counter()
        client.post(path, {"text": text})
        seconds.append(time.perf_counter() - begin)
    return percentiles(seconds)


def latency(client: Client, texts: dict[str, str]) -> dict[str, Any]:
    result = {}
    for name, text in texts.items():
        explained = client.post("/explain", {"text": text})["explanations"][0]
        row: dict[str, Any] = {"chars": len(text), "tokens": explained["tokens"]}
        row["words"] = len(explained["words"])
        with loaded(row):
            row["explain"] = timed_loop(client, "/explain", text, ROUNDS[name])
            row["predict"] = timed_loop(client, "/predict", text, ROUNDS[name])
        row["ratio_p50"] = round(row["explain"]["p50_ms"] / row["predict"]["p50_ms"], 1)
        result[name] = row
        print(
            f"{name:12} {row['tokens']:4} tokens {row['words']:4} words  /explain p50 "
            f"{row['explain']['p50_ms']} ms p99 {row['explain']['p99_ms']} ms  (/predict p50 "
            f"{row['predict']['p50_ms']} ms)"
        )
    return result


def faithfulness(client: Client, texts: list[str], k: int = 3) -> dict[str, Any]:
    labels = client.post("/explain", {"text": "fine"})["explanations"][0]["probabilities"]
    label = target_label(list(labels))
    rng = random.Random(0)
    cases, before = [], []
    for i, text in enumerate(texts):
        explained = client.post("/explain", {"text": text})["explanations"][0]
        before.append(explained["probabilities"][label])
        cases += single_cases(i, text, explained, label)
        cases += top_k_cases(i, text, explained, label, k, rng)
    after = []
    for start in range(0, len(cases), 64):
        chunk = cases[start : start + 64]
        body = {"texts": [c.text for c in chunk], "full_model": True}  # the graph /explain reads
        predictions = client.post("/predict", body)["predictions"]
        after += [p["probabilities"][label] for p in predictions]
    result = summary(cases, before, after)
    print(f"deletion test toward {label} on {len(texts)} texts: {json.dumps(result)}")
    return {"label": label, "texts": len(texts), "k": k, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--faithfulness", type=int, default=100, help="texts per set")
    args = parser.parse_args(argv)
    env = {"SENTIMENT_MODEL_DIR": str(DEFAULT_BUNDLES), "SENTIMENT_ACCESS_LOG": "false"}
    spec = ServerSpec("explain", [sys.executable, "-m", "app"], env)
    record: dict[str, Any] = {"conditions": "concurrency 1, 127.0.0.1, keep-alive, fp32"}
    samples, texts = sample_texts(args.data), real_texts(args.data, args.faithfulness)
    with running_server(spec) as server, loaded(record):
        client = Client(server.port)
        record["latency"] = latency(client, samples)
        write_json("explain", record)  # kept if the longer part below fails
        record["faithfulness"] = faithfulness(client, texts)
    write_json("explain", record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
