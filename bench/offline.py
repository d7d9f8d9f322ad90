"""The load test's texts through the model alone, no HTTP: what the serving overhead is measured
against. Batches of 32 in arrival order, run the way the service's batch worker runs them
(length buckets), at 1 and 2 ONNX Runtime threads; with and without tokenization.

    python -m bench offline --bodies imdb sst2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_BUNDLES, SCRATCH, loaded, write_json

BATCH = 32


def texts_of(bodies: Path) -> tuple[list[str], str]:
    """Texts and model name of a bodies file written by bench.bodies."""
    decoded = [json.loads(b) for b in json.loads(bodies.read_text())]
    return [d["text"] for d in decoded], decoded[0].get("model", "sentiment-en")


class Offline:
    """The model alone on a list of texts, set up once and timed as often as wanted (between
    the load test's rounds, so that it meets the same machine load as the servers)."""

    def __init__(self, bundle_dir: Path, texts: list[str], threads: int) -> None:
        from app.core.registry import LoadPlan, load_model
        from app.core.session import RuntimeConfig

        # the full graph alone (no cascade): "the model alone" that the service is compared to
        runtime = RuntimeConfig(providers="cpu", intra_op_threads=threads)
        worker = load_model(bundle_dir, LoadPlan("fp32", runtime, cascade=False))
        self.encoder, self.scorer = worker.encoder, worker.scorer
        self.threads, self.count = threads, len(texts)
        self.batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        self.rows = [[e.ids for e in self.encoder.encode_batch(b)] for b in self.batches]

    def _model_only(self) -> None:
        for batch in self.rows:
            self.scorer.score(batch, [True] * len(batch))

    def _with_tokenizer(self) -> None:
        for batch in self.batches:
            rows = [e.ids for e in self.encoder.encode_batch(batch)]
            self.scorer.score(rows, [True] * len(rows))

    def measure(self, seconds: float) -> dict[str, Any]:
        """Sequences/s of the model alone and of tokenizer + model, `seconds / 2` each."""
        record: dict[str, Any] = {"threads": self.threads, "texts": self.count}
        with loaded(record):
            model = passes_rate(self._model_only, self.count, seconds / 2)
            pipeline = passes_rate(self._with_tokenizer, self.count, seconds / 2)
        record["model_seq_per_s"] = round(model, 1)
        record["pipeline_seq_per_s"] = round(pipeline, 1)
        return record


def rates(bundle_dir: Path, texts: list[str], threads: int, seconds: float) -> dict[str, Any]:
    """Sequences/s of the model alone and of tokenization + model, over whole passes."""
    return Offline(bundle_dir, texts, threads).measure(2 * seconds)


def passes_rate(work: Any, items: int, seconds: float, max_passes: int = 50) -> float:
    """Items/s over whole passes (at least one) until `seconds` have gone; the first pass
    after a warm-up batch, so the arena and caches are settled."""
    done, started = 0, time.perf_counter()
    while done < max_passes * items:
        work()
        done += items
        if time.perf_counter() - started >= seconds:
            break
    return done / (time.perf_counter() - started)


def offline(model_dir: Path, bodies: dict[str, Path], seconds: float) -> dict[str, list]:
    results: dict[str, list] = {}
    for name, path in bodies.items():
        texts, model = texts_of(path)
        results[name] = [rates(model_dir / model, texts, t, seconds) for t in (1, 2)]
        for r in results[name]:
            print(
                f"offline {name:5s} {r['threads']} thread(s): model {r['model_seq_per_s']:8.1f}"
                f" seq/s, with tokenization {r['pipeline_seq_per_s']:8.1f} seq/s"
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--bodies", nargs="+", default=["imdb", "sst2"])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    files = {b: SCRATCH / "bodies" / f"{b}.json" for b in args.bodies}
    write_json("offline", {"offline": offline(args.model_dir, files, args.seconds)})


if __name__ == "__main__":
    main()
