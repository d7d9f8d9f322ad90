"""`"model": "auto"`: how often the language identifier routes a text to the right model, and what
it costs per text against the latency of serving a short text, both in one run.

    python -m bench language [--requests 400]

The mixed set is every text of three official test splits: NSMC test (Korean, 50,000),
TweetEval test and SST-2 sentences test (English, 12,284 + 1,821). A text is routed right when
the identifier names its set's language. Two figures: over every text, and over the texts
written in their set's language, which leaves out the NSMC reviews with no Hangul at all
(English words like "good", digits, emoticons): those are not Korean text, and no router should
send "good" to the Korean model. Every English text stays in both.
The cost is `LanguageIdentifier.identify` per text, in process, over the whole set and over the
SST-2 sentences alone (short English texts, all of which take the fastText path); the served
latency is `/predict` p50 for one SST-2 sentence per request, one caller on one keep-alive
connection, against `python -m app` with the shipped bundles, measured with and without
`"model": "auto"`. Writes bench/results/language.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from app.core.language import HANGUL, LanguageIdentifier
from bench.common import RESULTS
from bench.servers.launch import ServerSpec, free_port, running_server

REPO = Path(__file__).resolve().parents[1]
# (folder/file, column of the text, the language of every text in it)
SETS = {
    "nsmc-test": ("nsmc/ratings_test.txt.gz", 1, "ko"),
    "tweeteval-test": ("tweeteval/test.tsv.gz", 1, "en"),
    "sst2-sent-test": ("sst2/sent_test.tsv.gz", 1, "en"),
}


def read_texts(data_dir: Path, file: str, column: int) -> list[str]:
    with gzip.open(data_dir / file, "rt", encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    return [row[column] for row in rows if len(row) > column and row[column].strip()]


def written_in(language: str, text: str) -> bool:
    """Whether the text holds any letter of its language's script (Korean: Hangul). NSMC has
    reviews in English ("good", "bad") and with no letters ("10", "^^"): they are not Korean
    text, and routing them to the English model (or the fallback) is right, not an error."""
    return language != "ko" or HANGUL.search(text) is not None


def accuracy(identifier: LanguageIdentifier, sets: dict[str, tuple[list[str], str]]) -> dict:
    """Against the set's language for every text, and for the texts written in it."""
    report: dict = {"sets": {}}
    right = total = right_written = written = 0
    for name, (texts, language) in sets.items():
        answers = [identifier.identify(text).language for text in texts]
        in_script = [written_in(language, text) for text in texts]
        hits = sum(a == language for a in answers)
        hits_written = sum(a == language for a, w in zip(answers, in_script, strict=True) if w)
        report["sets"][name] = {
            "texts": len(texts),
            "language": language,
            "right": hits,
            "accuracy": hits / len(texts),
            "written_in_language": sum(in_script),
            "accuracy_written_in_language": hits_written / sum(in_script),
            "answers": dict(Counter(answers).most_common(8)),
        }
        right, total = right + hits, total + len(texts)
        right_written, written = right_written + hits_written, written + sum(in_script)
    report |= {"texts": total, "right": right, "accuracy": right / total}
    report |= {"texts_written_in_language": written, "accuracy_written": right_written / written}
    return report


def cost_us(identifier: LanguageIdentifier, texts: list[str], rounds: int = 3) -> float:
    """Best of `rounds` passes, microseconds per text."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            identifier.identify(text)
        best = min(best, (time.perf_counter() - started) / len(texts))
    return best * 1e6


def served_p50_ms(url: str, texts: list[str], requests: int, model: str | None) -> float:
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(requests + 20):
            body = {"text": texts[i % len(texts)]} | ({"model": model} if model else {})
            started = time.perf_counter()
            client.post("/predict", json=body).raise_for_status()
            if i >= 20:  # the first 20 warm up
                latencies.append(time.perf_counter() - started)
    return float(np.percentile(np.array(latencies) * 1e3, 50))


def served(texts: list[str], requests: int) -> dict[str, float]:
    env = {"SENTIMENT_GRPC_ENABLED": "false", "SENTIMENT_ACCESS_LOG": "false"}
    env |= {"SENTIMENT_LOG_LEVEL": "WARNING", "SENTIMENT_PORT": str(free_port())}
    spec = ServerSpec("language", [sys.executable, "-m", "app"], env)
    with running_server(spec) as server:
        named = served_p50_ms(server.url, texts, requests, None)
        auto = served_p50_ms(server.url, texts, requests, "auto")
        named_again = served_p50_ms(server.url, texts, requests, None)
    return {"named_p50_ms": min(named, named_again), "auto_p50_ms": auto}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench language", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--requests", type=int, default=400, help="per served measurement")
    args = parser.parse_args()
    sets = {
        name: (read_texts(args.data_dir, file, column), language)
        for name, (file, column, language) in SETS.items()
    }
    identifier = LanguageIdentifier(frozenset({"en"}))
    identifier.load()
    report = accuracy(identifier, sets)
    sentences = sets["sst2-sent-test"][0]
    everything = [text for texts, _ in sets.values() for text in texts]
    report["cost_us_per_text"] = {
        "mixed_set": cost_us(identifier, everything, rounds=1),
        "sst2_sentences": cost_us(identifier, sentences),
    }
    report["served"] = served(sentences, args.requests)
    share = report["cost_us_per_text"]["sst2_sentences"] / 1e3 / report["served"]["named_p50_ms"]
    report["cost_share_of_served_short_text"] = share
    report["load_1min"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    path = RESULTS / "language.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
