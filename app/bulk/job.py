"""One bulk job: input -> scored chunks -> output, with the progress bar; local or on Ray.

The local run and the Ray run share everything but where texts are scored: both read the input
with app.bulk.formats, lay out the output the same way and write it with app.bulk.writers, so
their outputs are the same file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.bulk.formats import InputError, Record, Source
from app.bulk.scorer import ModelInfo, Result, ScorerConfig, describe_model, load_scorer
from app.bulk.writers import Job, Sink, open_sink

Scored = tuple[list[Record], list[Result]]  # rows of one chunk and their results, in order


@dataclass(frozen=True)
class Options:
    input: Path
    output: Path
    text_column: str = "text"
    prefix: str = ""  # before every output column name: label, p_<label> (and path)
    chunk_rows: int = 1024  # rows read, scored and written at a time: bounds memory
    part_rows: int = 100_000  # rows per Parquet part
    mode: str = "new"  # new, resume or overwrite
    progress: bool = True
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    ray: str | None = None  # Ray address (or auto); None = score in this process
    ray_actors: int | None = None  # None: the cluster's CPUs // CPUs per actor
    ray_cpus_per_actor: int = 1


@dataclass(frozen=True, slots=True)
class Summary:
    rows: int  # rows scored by this run
    skipped: int  # rows already in the output (resume)
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


# --model auto adds these after the others: the model that answered, the text's language, and
# for a text in a language no bundle reads the reason it has no label (its p_ columns empty)
AUTO_COLUMNS = ("model", "language", "error")
# --sentences adds these after the others: the aggregate's label, mixed and mixed_score, and
# the sentences as a JSON list of {start, end, label, score, probabilities}
SENTENCE_COLUMNS = ("aggregate_label", "mixed", "mixed_score", "sentences")


def output_columns(
    info: ModelInfo, prefix: str, has_path: bool, sentences: bool = False
) -> list[str]:
    columns = [f"{prefix}label", *(f"{prefix}p_{label}" for label in info.labels)]
    columns = [*columns, f"{prefix}path"] if has_path else columns
    columns = [*columns, *(prefix + c for c in AUTO_COLUMNS)] if info.auto else columns
    return [*columns, *(prefix + c for c in SENTENCE_COLUMNS)] if sentences else columns


def sentence_cells(analysis: dict[str, Any], prefix: str) -> dict[str, Any]:
    aggregate = analysis["aggregate"]
    values = (
        aggregate["label"],
        aggregate["mixed"],
        aggregate["mixed_score"],
        json.dumps(analysis["sentences"], ensure_ascii=False),
    )
    return {prefix + c: v for c, v in zip(SENTENCE_COLUMNS, values, strict=True)}


def merge(records: list[Record], results: list[Result], prefix: str) -> list[Record]:
    """Each input row with its answer appended."""
    rows = []
    for record, answer in zip(records, results, strict=True):
        row = dict(record)
        row[f"{prefix}label"] = answer.label
        for label, p in answer.probabilities.items():
            row[f"{prefix}p_{label}"] = p
        if answer.path is not None:
            row[f"{prefix}path"] = answer.path
        if answer.routed is not None:
            routed = answer.routed
            row |= {f"{prefix}model": routed.model, f"{prefix}language": routed.language}
            row[f"{prefix}error"] = routed.error
        if answer.analysis is not None:
            row.update(sentence_cells(answer.analysis, prefix))
        rows.append(row)
    return rows


def check_columns(inputs: list[str], outputs: list[str]) -> None:
    clash = sorted(set(inputs) & set(outputs))
    if clash:
        raise InputError(
            f"the input already has columns {clash}, which the output adds; "
            "name the added columns apart with --prefix (e.g. --prefix pred_)"
        )


def output_schema(
    source: Source, columns: list[str], info: ModelInfo, prefix: str, sentences: bool = False
) -> Any:
    """The Parquet schema: the input's own for Parquet, all strings for CSV and TSV, None for
    JSONL (taken from the first rows); the added columns after it."""
    if source.kind.kind == "jsonl":
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    from app.bulk.formats import parquet_files

    if source.kind.kind == "parquet":
        inputs = list(pq.read_schema(parquet_files(source.path)[0]))
    else:
        inputs = [pa.field(c, pa.string()) for c in columns]
    added = [pa.field(f"{prefix}label", pa.string())]
    added += [pa.field(f"{prefix}p_{label}", pa.float64()) for label in info.labels]
    if info.cascade:
        added.append(pa.field(f"{prefix}path", pa.string()))
    if info.auto:
        added += [pa.field(prefix + c, pa.string()) for c in AUTO_COLUMNS]
    if sentences:
        kinds = (pa.string(), pa.bool_(), pa.float64(), pa.string())
        added += [pa.field(prefix + c, k) for c, k in zip(SENTENCE_COLUMNS, kinds, strict=True)]
    return pa.schema(inputs + added)


class ProgressBar:
    """Rows done and rows/s on stderr: redrawn in place on a terminal, a line every 10 s else."""

    def __init__(self, total: int | None, done: int, stream: IO[str] | None = None) -> None:
        self.total, self.done, self.rows = total, done, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = self.shown = time.monotonic()

    def update(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.shown >= (0.2 if self.tty else 10.0):
            self.shown = now
            self._show("\r" if self.tty else "", "" if self.tty else "\n")

    def close(self) -> None:
        self._show("\r" if self.tty else "", "\n")

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        done = self.done + self.rows
        of = f"/{self.total:,} ({100 * done / self.total:.0f}%)" if self.total else ""
        return f"{done:,}{of} rows  {rate:,.0f} rows/s  {elapsed:,.1f} s"

    def _show(self, start: str, end: str) -> None:
        self.stream.write(f"{start}{self.line()}{end}")
        self.stream.flush()


def local_results(options: Options, source: Source, skip: int) -> Iterator[Scored]:
    scorer = load_scorer(options.scorer)
    try:
        for chunk in source.chunks(skip):
            yield chunk.records, scorer.score(chunk.texts)
    finally:
        scorer.close()


def run(options: Options) -> Summary:
    info = describe_model(options.scorer)
    if info.auto and options.ray is not None:
        raise InputError("--model auto scores in this process; leave out --ray")
    if info.auto and options.scorer.sentences:
        raise InputError("--sentences needs one named model; leave out --model auto")
    source = Source(options.input, options.text_column, options.chunk_rows)
    columns = source.columns
    sentences = options.scorer.sentences
    added = output_columns(info, options.prefix, has_path=info.cascade, sentences=sentences)
    check_columns(columns, added)
    job = Job(
        str(options.input.resolve()),
        options.text_column,
        info.name,
        info.version,
        info.variant,
        options.prefix,
    )
    parquet = options.output.suffix.lower() == ".parquet"
    schema = output_schema(source, columns, info, options.prefix, sentences) if parquet else None
    sink = open_sink(options.output, columns + added, job, schema, options.part_rows, options.mode)
    return drive(options, source, sink)


def drive(options: Options, source: Source, sink: Sink) -> Summary:
    skipped = sink.rows
    bar = ProgressBar(source.total, skipped) if options.progress else None
    started = time.monotonic()
    if options.ray is not None:
        from app.bulk.ray_runner import ray_results

        results = ray_results(options, source, skipped)
    else:
        results = local_results(options, source, skipped)
    try:
        for records, answers in results:
            sink.write(merge(records, answers, options.prefix))
            if bar is not None:
                bar.update(len(records))
    except BaseException:
        sink.abort()
        raise
    sink.close()
    if bar is not None:
        bar.close()
    return Summary(sink.rows - skipped, skipped, time.monotonic() - started)
