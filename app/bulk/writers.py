"""Output files written chunk by chunk, so that an interrupted run can be continued (`--resume`).

Text outputs (CSV, TSV, JSONL, each optionally `.gz`) are one file plus a progress file beside
it, `OUTPUT.bulk-progress.json`: after each chunk is written and flushed, the progress file is
replaced (write, then rename) with the rows and bytes written so far. A gzip'd output is a series
of gzip members, one per chunk, which every gzip reader reads as one stream. `--resume` cuts the
output back to the recorded byte count (dropping a chunk that was half written) and continues
at the recorded row. The progress file is deleted when the run completes.

Parquet output is a folder of parts, `OUTPUT/part-00000.parquet`, ... of `--part-rows` rows each
(pyarrow, pandas, DuckDB, Spark and Ray read the folder as one table). A part is written under a
hidden name (`.part-00003.parquet.inprogress`, which those readers skip) and renamed when it is
complete, so an interruption leaves only complete, readable parts: after Ctrl-C or an input error
the rows already written become a last, shorter part; after a kill the hidden part is lost.
`--resume` deletes a hidden part and continues after the complete ones (their rows are counted
from their footers). The folder holds `_bulk_progress.json` while the run is unfinished.

Both progress files record the job (input, text column, model and version, column prefix);
`--resume` refuses to continue an output written for a different job.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from app.bulk.formats import FileKind, InputError, Kind, Record, file_kind

TEXT_PROGRESS_SUFFIX = ".bulk-progress.json"
PARQUET_PROGRESS = "_bulk_progress.json"


class OutputError(RuntimeError):
    """The output cannot be written or continued as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Job:
    """What an output was written for; a resumed run must match it."""

    input: str
    text_column: str
    model: str
    version: str
    variant: str
    prefix: str


class Sink(Protocol):
    rows: int  # data rows written so far

    def write(self, records: list[Record]) -> None: ...

    def close(self) -> None:
        """Complete the output (and delete its progress file)."""
        ...

    def abort(self) -> None:
        """Stop after an error or Ctrl-C: keep what is written, and the progress file."""
        ...


def save_json(path: Path, state: dict[str, Any]) -> None:
    """Replace `path` atomically: a reader sees the old or the new state, never half of one."""
    fresh = path.with_name(path.name + ".tmp")
    fresh.write_text(json.dumps(state, indent=1))
    fresh.replace(path)


def load_state(progress: Path, job: Job, output: Path) -> dict[str, Any]:
    if not progress.is_file():
        raise OutputError(
            f"{output} exists but has no progress file {progress.name}: it is complete, or was "
            "not written by app.bulk; use --overwrite to write it again"
        )
    state = json.loads(progress.read_text())
    recorded = state.get("job", {})
    differ = {k: (recorded.get(k), v) for k, v in asdict(job).items() if recorded.get(k) != v}
    if differ:
        raise OutputError(
            f"{output} was written for another job; differences (recorded, now): {differ}"
        )
    return state


def cell(value: object) -> str:
    """A value as CSV text: strings as they are, None empty, other JSON values as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, default=str)


class TextSink:
    def __init__(self, path: Path, kind: FileKind, columns: list[str], job: Job) -> None:
        self.path = path
        self.kind = kind
        self.columns = columns
        self.job = job
        self.progress = path.with_name(path.name + TEXT_PROGRESS_SUFFIX)
        self.rows = 0
        self._handle: IO[bytes] | None = None

    def start(self) -> None:
        self._handle = self.path.open("wb")
        if self.kind.kind != "jsonl":
            self._append(self._csv([self.columns]))
        else:
            self._save()

    def resume(self) -> None:
        state = load_state(self.progress, self.job, self.path)
        size = self.path.stat().st_size
        if size < state["bytes"]:
            raise OutputError(f"{self.path} is shorter than its progress file records")
        os.truncate(self.path, state["bytes"])  # drop a chunk that was half written
        self.rows = state["rows"]
        self._handle = self.path.open("ab")

    def write(self, records: list[Record]) -> None:
        if self.kind.kind == "jsonl":
            data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
            self._append(data.encode("utf-8"), len(records))
        else:
            self._append(self._csv(self._cells(records)), len(records))

    def close(self) -> None:
        self.abort()
        self.progress.unlink(missing_ok=True)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def _cells(self, records: list[Record]) -> list[list[str]]:
        rows = []
        known = set(self.columns)
        for i, record in enumerate(records):
            extra = record.keys() - known
            if extra:
                raise InputError(
                    f"row index {self.rows + i} has fields {sorted(extra)} that the first row "
                    f"lacks; {self.kind.kind.upper()} output needs one set of columns: write JSONL"
                )
            rows.append([cell(record.get(c)) for c in self.columns])
        return rows

    def _csv(self, rows: list[list[str]]) -> bytes:
        buffer = io.StringIO()
        writer = csv_writer(buffer, self.kind.kind)
        try:
            writer.writerows(rows)
        except csv.Error as exc:  # TSV cannot hold a tab or line break
            raise InputError(
                f"a row after row index {self.rows} holds a tab or line break, which TSV cannot "
                f"hold ({exc}); write CSV or JSONL instead"
            ) from exc
        return buffer.getvalue().encode("utf-8")

    def _append(self, data: bytes, rows: int = 0) -> None:
        assert self._handle is not None
        self._handle.write(gzip.compress(data, mtime=0) if self.kind.gzip else data)
        self._handle.flush()
        self.rows += rows
        self._save()

    def _save(self) -> None:
        assert self._handle is not None
        state = {"job": asdict(self.job), "rows": self.rows, "bytes": self._handle.tell()}
        save_json(self.progress, state)


def csv_writer(buffer: io.StringIO, kind: Kind) -> Any:
    if kind == "tsv":
        return csv.writer(
            buffer, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n"
        )
    return csv.writer(buffer, lineterminator="\n")


class ParquetSink:
    """A folder of complete parts of up to `part_rows` rows (see the module docstring)."""

    def __init__(self, folder: Path, schema: Any, part_rows: int, job: Job) -> None:
        self.folder = folder
        self.schema = schema  # pyarrow schema, or None: taken from the first chunk
        self.part_rows = part_rows
        self.job = job
        self.progress = folder / PARQUET_PROGRESS
        self.rows = 0
        self._parts = 0  # complete parts
        self._open: Any = None  # the pyarrow ParquetWriter of the part being written
        self._open_rows = 0

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._save()

    def resume(self) -> None:
        import pyarrow.parquet as pq

        load_state(self.progress, self.job, self.folder)
        for stale in self.folder.glob(".part-*.inprogress"):
            stale.unlink()
        while (part := self._part(self._parts)).is_file():
            self.rows += pq.ParquetFile(part).metadata.num_rows
            if self.schema is None:
                self.schema = pq.read_schema(part)
            self._parts += 1

    def write(self, records: list[Record]) -> None:
        while records:
            room = self.part_rows - self._open_rows
            self._write_part(records[:room])
            records = records[room:]

    def close(self) -> None:
        if self._open is not None or self._parts == 0:
            self._finish_part()  # the last part, or one empty part so the folder has a schema
        self.progress.unlink(missing_ok=True)

    def abort(self) -> None:
        """A shorter last part keeps the rows written; a killed run loses its hidden part."""
        if self._open is not None:
            self._finish_part()

    def _write_part(self, records: list[Record]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist(records, schema=self.schema)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InputError(
                f"rows from index {self.rows} on do not fit the Parquet schema taken from the "
                f"first rows ({exc}); write JSONL instead"
            ) from exc
        self.schema = table.schema
        if self._open is None:
            self._open = pq.ParquetWriter(self._hidden(self._parts), table.schema)
        self._open.write_table(table)
        self._open_rows += len(records)
        self.rows += len(records)
        if self._open_rows == self.part_rows:
            self._finish_part()

    def _finish_part(self) -> None:
        import pyarrow.parquet as pq

        if self._open is None:
            if self.schema is None:
                raise OutputError(f"{self.folder}: no rows, so no schema for an empty part")
            self._open = pq.ParquetWriter(self._hidden(self._parts), self.schema)
        self._open.close()
        self._hidden(self._parts).replace(self._part(self._parts))
        self._parts += 1
        self._open, self._open_rows = None, 0
        self._save()

    def _part(self, index: int) -> Path:
        return self.folder / f"part-{index:05d}.parquet"

    def _hidden(self, index: int) -> Path:
        return self.folder / f".part-{index:05d}.parquet.inprogress"

    def _save(self) -> None:
        state = {"job": asdict(self.job), "rows": self.rows, "parts": self._parts}
        save_json(self.progress, state)


def remove_output(path: Path) -> None:
    """For --overwrite: the file and its progress file, or this tool's files in a folder."""
    if path.is_dir():
        for pattern in ("part-*.parquet", ".part-*.inprogress", PARQUET_PROGRESS):
            for item in path.glob(pattern):
                item.unlink()
    else:
        path.unlink(missing_ok=True)
        path.with_name(path.name + TEXT_PROGRESS_SUFFIX).unlink(missing_ok=True)


def output_exists(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def open_sink(
    path: Path, columns: list[str], job: Job, schema: Any, part_rows: int, mode: str
) -> TextSink | ParquetSink:
    """A started sink; mode is `new` (refuse an existing output), `resume` or `overwrite`."""
    kind = file_kind_of_output(path)
    sink: TextSink | ParquetSink
    if kind.kind == "parquet":
        sink = ParquetSink(path, schema, part_rows, job)
    else:
        sink = TextSink(path, kind, columns, job)
    exists = output_exists(path)
    if exists and mode == "new":
        raise OutputError(f"{path} exists; pass --resume to continue it or --overwrite")
    if exists and mode == "resume":
        sink.resume()
        return sink
    if exists:
        remove_output(path)
    sink.start()
    return sink


def file_kind_of_output(path: Path) -> FileKind:
    try:
        return file_kind(path)
    except InputError as exc:
        raise OutputError(str(exc)) from exc
