"""Per-sentence analysis with the shipped models, through the real service over HTTP.

    python -m bench sentences [--data ../shared/data] [--imdb 1000] [--cost 300]

Starts `python -m app` (model/bundles; sentence limits raised so that no review is refused) and
measures:
- cost: IMDB test reviews (seeded sample) one per request at concurrency 1, and 32 per request,
  with and without `"sentences": true`: milliseconds per review;
- agreement: how often the aggregate label (length-weighted mean of the sentences) differs from
  the whole-text label, on IMDB test reviews and on SemEval-14 pseudo-reviews (2-6 consecutive
  test sentences joined; the files carry no review ids), with examples; on IMDB also the
  accuracy of both against the gold rating;
- mixed: a pseudo-review is truly mixed when its gold sentence labels hold both a positive and a
  negative one (SemEval-14 for sentiment-en, KoBEST SentiNeg for sentiment-ko). The threshold on
  `mixed_score` is the best F1 on held-out pseudo-reviews (files the model never trained on),
  with a two-fold estimate (picked on one half, scored on the other); the splits the models
  trained on are shown for contrast; also how often IMDB reviews come out mixed.
Writes bench/results/sentences.json and sentences_mixed.png.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path
from typing import Any

from app.core.sentences import split_spans
from bench.common import DEFAULT_BUNDLES, DEFAULT_DATA, RESULTS, loaded, write_json
from bench.explain import Client
from bench.servers.launch import ServerSpec, running_server

CHUNK = 32  # texts per request
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]
# model -> (files the model was trained on, held-out files, negative label, positive label).
# The threshold is calibrated on held-out pseudo-reviews only: on its own training sentences a
# model is over-confident (sentiment-en trained on SemEval-14 train, sentiment-ko on KoBEST
# train, with KoBEST dev for picking the epoch: dev and the negated test are the held-out set).
MIXED = {
    "sentiment-en": (
        ["semeval14-absa/laptops_train.tsv.gz", "semeval14-absa/restaurants_train.tsv.gz"],
        ["semeval14-absa/laptops_test.tsv.gz", "semeval14-absa/restaurants_test.tsv.gz"],
        0,
        2,
    ),
    "sentiment-ko": (
        ["kobest-sentineg/train.tsv.gz"],
        ["kobest-sentineg/dev.tsv.gz", "kobest-sentineg/test.tsv.gz"],
        0,
        1,
    ),
}


def read_rows(data: Path, files: list[str]) -> list[tuple[int, str]]:
    rows = []
    for name in files:
        with gzip.open(data / name, "rt", encoding="utf-8") as f:
            next(f)
            for line in f:
                label, text = line.rstrip("\n").split("\t", 1)
                if text.strip():
                    rows.append((int(label), text.strip()))
    return rows


def pseudo_reviews(rows: list[tuple[int, str]], seed: int = 0) -> list[tuple[str, list[int]]]:
    """(2-6 consecutive rows joined by a space, their gold labels)."""
    rng, docs, i = random.Random(seed), [], 0
    while i < len(rows):
        group = rows[i : i + rng.randint(2, 6)]
        i += len(group)
        docs.append((" ".join(t for _, t in group), [label for label, _ in group]))
    return docs


def imdb_sample(data: Path, n: int, seed: int = 0) -> list[tuple[int, str]]:
    rows = read_rows(data, ["imdb/test.tsv.gz"])
    return random.Random(seed).sample(rows, n)


def predict(client: Client, texts: list[str], model: str, sentences: bool) -> list[dict]:
    answers: list[dict] = []
    for i in range(0, len(texts), CHUNK):
        body = {"texts": texts[i : i + CHUNK], "model": model, "sentences": sentences}
        answers += client.post("/predict", body)["predictions"]
    return answers


def timed(client: Client, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    client.post("/predict", body)
    return time.perf_counter() - started


def cost(client: Client, texts: list[str], model: str) -> dict[str, Any]:
    """Milliseconds per review, one per request and CHUNK per request, each mode. The two modes
    alternate request by request (the order swapped each time), so that both see the same load
    on this shared machine."""
    client.post("/predict", {"texts": texts[:CHUNK], "model": model, "sentences": True})
    seconds = {(mode, size): 0.0 for mode in (False, True) for size in (1, CHUNK)}
    for size in (1, CHUNK):
        for k, i in enumerate(range(0, len(texts), size)):
            for mode in (False, True) if k % 2 else (True, False):
                body = {"texts": texts[i : i + size], "model": model, "sentences": mode}
                seconds[mode, size] += timed(client, body)
    result: dict[str, Any] = {"reviews": len(texts)}
    for mode, name in ((False, "whole_text"), (True, "sentences")):
        result[name] = {
            f"ms_{size}_per_request": seconds[mode, size] / len(texts) * 1e3 for size in (1, CHUNK)
        }
    for size in (1, CHUNK):
        result[f"ratio_{size}_per_request"] = seconds[True, size] / seconds[False, size]
    return result


def polarity(probabilities: dict[str, float]) -> int:
    return int(probabilities["positive"] > probabilities["negative"])


def example(text: str, answer: dict) -> dict[str, Any]:
    return {
        "text": text if len(text) <= 600 else text[:600] + " ...",
        "whole_text": answer["label"],
        "aggregate": answer["aggregate"]["label"],
        "mixed_score": answer["aggregate"]["mixed_score"],
        "sentences": [
            f"{s['label'][:3]} {s['score']:.2f}: {text[s['start'] : s['end']][:120]}"
            for s in answer["sentences"]
        ],
    }


def agreement(texts: list[str], answers: list[dict], gold: list[int] | None) -> dict[str, Any]:
    differ = [i for i, a in enumerate(answers) if a["label"] != a["aggregate"]["label"]]
    polar = [
        i
        for i, a in enumerate(answers)
        if polarity(a["probabilities"]) != polarity(a["aggregate"]["probabilities"])
    ]
    shortest = sorted(differ, key=lambda i: len(texts[i]))[:5]
    result: dict[str, Any] = {
        "texts": len(texts),
        "sentences_per_text": sum(a["aggregate"]["sentences"] for a in answers) / len(answers),
        "label_differs": len(differ) / len(texts),
        "polarity_differs": len(polar) / len(texts),
        "examples": [example(texts[i], answers[i]) for i in shortest],
    }
    if gold is not None:
        whole = sum(polarity(a["probabilities"]) == g for a, g in zip(answers, gold, strict=True))
        agg = sum(
            polarity(a["aggregate"]["probabilities"]) == g
            for a, g in zip(answers, gold, strict=True)
        )
        result["accuracy_whole_text"] = whole / len(texts)
        result["accuracy_aggregate"] = agg / len(texts)
    return result


def prf(scores: list[float | None], gold: list[bool], threshold: float) -> dict[str, float]:
    said = [s is not None and s >= threshold for s in scores]
    tp = sum(s and g for s, g in zip(said, gold, strict=True))
    p, r = tp / max(sum(said), 1), tp / max(sum(gold), 1)
    return {"threshold": threshold, "precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9)}


def best_threshold(scores: list[float | None], gold: list[bool]) -> dict[str, float]:
    return max((prf(scores, gold, t) for t in THRESHOLDS), key=lambda c: c["f1"])


def two_fold(scores: list[float | None], gold: list[bool]) -> dict[str, float]:
    """Threshold picked on even-numbered reviews, scored on odd ones, and the other way round:
    precision / recall / F1 on each half at the other half's threshold, averaged."""
    halves = [list(range(0, len(gold), 2)), list(range(1, len(gold), 2))]
    folds = []
    for pick, test in (halves, halves[::-1]):
        chosen = best_threshold([scores[i] for i in pick], [gold[i] for i in pick])["threshold"]
        folds.append(prf([scores[i] for i in test], [gold[i] for i in test], chosen))
    return {k: sum(f[k] for f in folds) / 2 for k in ("threshold", "precision", "recall", "f1")}


def mixed_part(client: Client, data: Path, model: str) -> dict[str, Any]:
    trained_files, held_out_files, neg, pos = MIXED[model]
    result: dict[str, Any] = {"seen_in_training": trained_files, "held_out": held_out_files}
    curves, held = {}, ([], [])
    for part, files in (("seen_in_training", trained_files), ("held_out", held_out_files)):
        docs = pseudo_reviews(read_rows(data, files))
        texts = [t for t, _ in docs]
        answers = predict(client, texts, model, True)
        scores = [a["aggregate"]["mixed_score"] for a in answers]
        gold = [neg in labels and pos in labels for _, labels in docs]
        curves[part] = [prf(scores, gold, t) for t in THRESHOLDS]
        result[f"{part}_reviews"] = len(docs)
        result[f"{part}_truly_mixed"] = sum(gold)
        if part == "held_out":
            result["agreement"] = agreement(texts, answers, None)
            held = (scores, gold)
    best = best_threshold(*held)
    result["threshold"] = best["threshold"]
    result["held_out_at_threshold"] = best
    result["held_out_two_fold"] = two_fold(*held)
    result["seen_in_training_at_threshold"] = prf_at(curves["seen_in_training"], best["threshold"])
    result["curves"] = curves
    return result


def prf_at(curve: list[dict[str, float]], threshold: float) -> dict[str, float]:
    return next(c for c in curve if c["threshold"] == threshold)


def plot(result: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (model, part) in zip(axes, result["mixed"].items(), strict=True):
        for split, style in (("held_out", "-"), ("seen_in_training", ":")):
            curve = part["curves"][split]
            xs = [c["threshold"] for c in curve]
            for key in ("precision", "recall", "f1"):
                ax.plot(xs, [c[key] for c in curve], style, label=f"{key} ({split})")
        ax.axvline(part["threshold"], color="grey", lw=0.8)
        ax.set_title(f"{model}: mixed_score threshold")
        ax.set_xlabel("threshold")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "sentences_mixed.png", dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--imdb", type=int, default=1000, help="IMDB reviews for agreement")
    parser.add_argument("--cost", type=int, default=300, help="IMDB reviews for the cost")
    args = parser.parse_args(argv)
    env = {
        "SENTIMENT_MODEL_DIR": str(DEFAULT_BUNDLES),
        "SENTIMENT_ACCESS_LOG": "false",
        "SENTIMENT_GRPC_ENABLED": "false",  # HTTP only; port 8001 may be taken
        "SENTIMENT_MAX_SENTENCES": "100000",
        "SENTIMENT_MAX_REQUEST_SENTENCES": "1000000",
        "SENTIMENT_MAX_QUEUE": "1000000",
        "SENTIMENT_REQUEST_TIMEOUT_S": "600",
    }
    spec = ServerSpec("sentences", [sys.executable, "-m", "app"], env)
    record: dict[str, Any] = {"conditions": "127.0.0.1, keep-alive, concurrency 1, fp32 default"}
    rows = imdb_sample(args.data, max(args.imdb, args.cost))
    texts, gold = [t for _, t in rows], [g for g, _ in rows]
    counts = [len(split_spans(t, "en")) for t in texts[: args.imdb]]
    record["imdb_sentences"] = {
        "mean": sum(counts) / len(counts),
        "max": max(counts),
        "over_64": sum(c > 64 for c in counts) / len(counts),
    }
    with running_server(spec) as server, loaded(record):
        client = Client(server.port)
        record["cost_imdb"] = cost(client, texts[: args.cost], "sentiment-en")
        print("cost per IMDB review:", record["cost_imdb"])
        answers = predict(client, texts[: args.imdb], "sentiment-en", True)
        record["agreement_imdb"] = agreement(texts[: args.imdb], answers, gold[: args.imdb])
        scores = [a["aggregate"]["mixed_score"] for a in answers]
        record["mixed"] = {model: mixed_part(client, args.data, model) for model in MIXED}
        threshold = record["mixed"]["sentiment-en"]["threshold"]
        record["imdb_mixed_share"] = {
            str(t): sum(s is not None and s >= t for s in scores) / len(scores)
            for t in sorted({threshold, 0.5, 0.7, 0.9})
        }
    for key in ("agreement_imdb",):
        print(key, {k: v for k, v in record[key].items() if k != "examples"})
    for model, part in record["mixed"].items():
        print(model, "threshold", part["threshold"], "held out", part["held_out_at_threshold"])
        print("  two-fold", part["held_out_two_fold"])
        print("  agreement", {k: v for k, v in part["agreement"].items() if k != "examples"})
    print("IMDB reviews mixed:", record["imdb_mixed_share"])
    write_json("sentences", record)
    plot(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
