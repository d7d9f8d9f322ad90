"""`python -m app.bulk INPUT OUTPUT`: score a CSV, TSV, JSONL or Parquet file, locally or on Ray.

Exit status: 0 done, 2 bad input, output or arguments (the message names the file and row),
130 interrupted (continue with --resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.bulk.formats import InputError
from app.bulk.job import Options, run
from app.bulk.scorer import ScorerConfig
from app.bulk.writers import OutputError
from app.core.registry import StartupError

EPILOG = """\
Formats follow the suffix: .csv, .tsv, .jsonl/.ndjson (each may end in .gz: read and written
gzip'd) and .parquet (OUTPUT.parquet is a folder of parts). The output holds every input column,
then <prefix>label and one <prefix>p_<label> probability per label of the model.
"""


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app.bulk", description=__doc__, epilog=EPILOG)
    p.add_argument("input", type=Path, help="file to score")
    p.add_argument("output", type=Path, help="file to write (a folder for .parquet)")
    p.add_argument("--text-column", default="text", help="column holding the text (text)")
    p.add_argument("--prefix", default="", help="before the added column names, e.g. pred_")
    p.add_argument(
        "--model",
        default="sentiment-en",
        help="bundle name (sentiment-en), or auto: each text to the bundle of its language, "
        "with model, language and error columns",
    )
    p.add_argument("--model-dir", type=Path, help="folder of bundles (the service's default)")
    p.add_argument("--variant", choices=["fp32", "int8"], help="graph (the bundle's default)")
    p.add_argument("--threads", type=positive, help="ONNX Runtime threads per batch worker")
    p.add_argument("--workers", type=positive, help="batches run at once (local run)")
    p.add_argument("--chunk-rows", type=positive, default=1024, help="rows per chunk (1024)")
    p.add_argument("--part-rows", type=positive, default=100_000, help="rows per Parquet part")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue a partly written OUTPUT")
    again.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    p.add_argument(
        "--sentences",
        action="store_true",
        help="also score each sentence: adds aggregate_label, mixed, mixed_score and sentences "
        "(JSON: span, label, probabilities)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--ray", metavar="ADDRESS", help="score on Ray: auto, ray://host:10001, local")
    p.add_argument("--ray-actors", type=positive, help="scoring actors (cluster CPUs // cpus)")
    p.add_argument("--ray-cpus-per-actor", type=positive, default=1, help="CPUs per actor (1)")
    return p


def options_of(args: argparse.Namespace) -> Options:
    scorer = ScorerConfig(
        model=args.model,
        model_dir=args.model_dir,
        variant=args.variant,
        intra_op_threads=args.threads,
        batch_workers=args.workers,
        max_texts=args.chunk_rows,
        sentences=args.sentences,
    )
    return Options(
        input=args.input,
        output=args.output,
        text_column=args.text_column,
        prefix=args.prefix,
        chunk_rows=args.chunk_rows,
        part_rows=args.part_rows,
        mode="resume" if args.resume else "overwrite" if args.overwrite else "new",
        progress=not args.no_progress,
        scorer=scorer,
        ray=args.ray,
        ray_actors=args.ray_actors,
        ray_cpus_per_actor=args.ray_cpus_per_actor,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        summary = run(options_of(args))
    except (InputError, OutputError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: --resume (output: {args.output})", file=sys.stderr)
        return 130
    print(
        f"scored {summary.rows:,} rows in {summary.seconds:.1f} s ({summary.rows_per_s:,.0f} "
        f"rows/s); {summary.skipped:,} were already in {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
