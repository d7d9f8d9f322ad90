"""Input files read as a stream of chunks: CSV, TSV, JSONL (gzip'd or not) and Parquet.

A reader holds one chunk of rows in memory at a time. Every row keeps all its columns (they are
carried through to the output); the text column is checked row by row, and an unreadable row
stops the run with an `InputError` naming it: the line number for CSV, TSV and JSONL (1 = the
first line of the file, the header for CSV and TSV), the row index (0 = first data row) for
Parquet. TSV is read like the training data: tabs separate fields, quotes are text.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

csv.field_size_limit(1 << 24)

Kind = Literal["csv", "tsv", "jsonl", "parquet"]
KINDS: dict[str, Kind] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
Record = dict[str, Any]


class InputError(ValueError):
    """The input cannot be read as asked; the message names the file and the row."""


@dataclass(frozen=True, slots=True)
class FileKind:
    kind: Kind
    gzip: bool

    @property
    def text(self) -> bool:
        return self.kind != "parquet"


def file_kind(path: Path) -> FileKind:
    """The format from the suffix: `.csv`, `.tsv`, `.jsonl`/`.ndjson`, `.parquet`, each text
    format optionally followed by `.gz`; a rotated file's number after it (`payload.jsonl.3`,
    as the service's payload log and logrotate name them) is skipped."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1][1:].isdigit():
        suffixes = suffixes[:-1]
    zipped = bool(suffixes) and suffixes[-1] == ".gz"
    if zipped:
        suffixes = suffixes[:-1]
    kind = KINDS.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise InputError(
            f"{path}: unknown format; name it .csv, .tsv, .jsonl, .ndjson or .parquet "
            "(text formats may end in .gz)"
        )
    if kind == "parquet" and zipped:
        raise InputError(f"{path}: Parquet compresses inside the file; drop the .gz suffix")
    return FileKind(kind, zipped)


@dataclass(slots=True)
class Chunk:
    records: list[Record]
    texts: list[str]
    first_row: int  # 0-based index of records[0] among the data rows


def open_text(path: Path, zipped: bool) -> IO[str]:
    if zipped:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_of(value: object, where: str, column: str) -> str:
    if not isinstance(value, str):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise InputError(
            f"{where}: {column!r} is {type(value).__name__} {shown}, not a string of text"
        )
    if not value.isascii() and _SURROGATE.search(value):  # JSON escapes like "\ud800"
        raise InputError(f"{where}: {column!r} holds a lone UTF-16 surrogate; not valid Unicode")
    return value


class Source:
    """One input file: its columns (known once opened), its row count when cheap to know, and
    its chunks from row `skip` on."""

    def __init__(self, path: Path, text_column: str, chunk_rows: int) -> None:
        self.path = path
        self.kind = file_kind(path)
        self.text_column = text_column
        self.chunk_rows = chunk_rows

    @property
    def columns(self) -> list[str]:
        if self.kind.kind == "parquet":
            return parquet_columns(self.path, self.text_column)
        with open_text(self.path, self.kind.gzip) as handle:
            if self.kind.kind == "jsonl":
                return jsonl_columns(self.path, handle, self.text_column)
            return delimited_header(self.path, handle, self.kind.kind, self.text_column)

    @property
    def total(self) -> int | None:
        """Data rows in the file, for Parquet (from its footer); None for text formats."""
        return parquet_rows(self.path) if self.kind.kind == "parquet" else None

    def chunks(self, skip: int = 0) -> Iterator[Chunk]:
        try:
            if self.kind.kind == "parquet":
                yield from parquet_chunks(self.path, self.text_column, self.chunk_rows, skip)
                return
            with open_text(self.path, self.kind.gzip) as handle:
                if self.kind.kind == "jsonl":
                    rows = jsonl_rows(self.path, handle, self.text_column)
                else:
                    rows = delimited_rows(self.path, handle, self.kind.kind, self.text_column)
                yield from chunked(rows, self.chunk_rows, skip)
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not UTF-8 text ({exc})") from exc
        except (OSError, EOFError) as exc:  # e.g. a truncated gzip stream
            raise InputError(f"{self.path}: cannot be read to the end: {exc}") from exc


def chunked(rows: Iterator[tuple[Record, str]], size: int, skip: int) -> Iterator[Chunk]:
    records: list[Record] = []
    texts: list[str] = []
    index = first = skip
    for _ in range(skip):
        if next(rows, None) is None:
            return
    for record, text in rows:
        records.append(record)
        texts.append(text)
        index += 1
        if len(records) == size:
            yield Chunk(records, texts, first)
            records, texts, first = [], [], index
    if records:
        yield Chunk(records, texts, first)


# --- CSV and TSV ---


def csv_reader(handle: IO[str], kind: Kind) -> Any:
    if kind == "tsv":
        return csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    return csv.reader(handle)


def check_header(path: Path, header: list[str] | None, text_column: str) -> list[str]:
    if not header:
        raise InputError(f"{path}: line 1: empty file; expected a header line")
    if len(set(header)) != len(header):
        raise InputError(f"{path}: line 1: the header repeats a column name: {header}")
    if text_column not in header:
        raise InputError(
            f"{path}: line 1: no column {text_column!r} in the header {header}; "
            "choose the text column with --text-column"
        )
    return header


def delimited_header(path: Path, handle: IO[str], kind: Kind, text_column: str) -> list[str]:
    return check_header(path, next(csv_reader(handle, kind), None), text_column)


def delimited_rows(
    path: Path, handle: IO[str], kind: Kind, text_column: str
) -> Iterator[tuple[Record, str]]:
    reader = csv_reader(handle, kind)
    header = check_header(path, next(reader, None), text_column)
    line = reader.line_num + 1  # where the next record starts
    try:
        for fields in reader:
            if len(fields) != len(header):
                raise InputError(
                    f"{path}: line {line}: {len(fields)} fields, but the header has "
                    f"{len(header)} ({header})"
                )
            record = dict(zip(header, fields, strict=True))
            yield record, record[text_column]
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{path}: line {line}: {exc}") from exc


# --- JSONL ---


def parse_line(path: Path, number: int, line: str, text_column: str) -> tuple[Record, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {number}: not valid JSON: {exc}") from exc
    where = f"{path}: line {number}"
    if not isinstance(record, dict):
        raise InputError(f"{where}: a JSON {type(record).__name__}, expected an object")
    if text_column not in record:
        if "served_label" in record:  # a payload-log line written without its text
            raise InputError(
                f"{where}: a payload-log line without its text (SENTIMENT_PAYLOAD_LOG_TEXT="
                "hash or none): a hash cannot be rescored; collect texts for rescoring with "
                "SENTIMENT_PAYLOAD_LOG_TEXT=text"
            )
        raise InputError(
            f"{where}: no field {text_column!r} (fields: {sorted(record)}); "
            "choose the text field with --text-column"
        )
    return record, text_of(record[text_column], where, text_column)


def jsonl_rows(path: Path, handle: IO[str], text_column: str) -> Iterator[tuple[Record, str]]:
    for number, line in enumerate(handle, start=1):
        if line.strip():  # blank lines (a trailing newline, say) hold no row
            yield parse_line(path, number, line, text_column)


def jsonl_columns(path: Path, handle: IO[str], text_column: str) -> list[str]:
    """The fields of the first row (later rows may have others: JSONL output keeps them)."""
    first = next(jsonl_rows(path, handle, text_column), None)
    if first is None:
        raise InputError(f"{path}: no rows")
    return list(first[0])


# --- Parquet ---


def parquet_files(path: Path) -> list[Path]:
    """A file, or a folder of parts (this tool's Parquet output); hidden and `_` files skipped."""
    if not path.is_dir():
        return [path]
    parts = sorted(p for p in path.glob("*.parquet") if not p.name.startswith((".", "_")))
    if not parts:
        raise InputError(f"{path}: a folder without .parquet files")
    return parts


def parquet_columns(path: Path, text_column: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = parquet_files(path)[0]
    schema = pq.read_schema(first)
    if text_column not in schema.names:
        raise InputError(
            f"{first}: no column {text_column!r} (columns: {schema.names}); "
            "choose the text column with --text-column"
        )
    kind = schema.field(text_column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InputError(f"{first}: column {text_column!r} holds {kind}, not strings of text")
    return list(schema.names)


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path))


def parquet_chunks(path: Path, text_column: str, size: int, skip: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    parquet_columns(path, text_column)
    index = 0  # rows before the current row group, over all parts
    for part in parquet_files(path):
        handle = pq.ParquetFile(part)
        for group in range(handle.metadata.num_row_groups):
            rows = handle.metadata.row_group(group).num_rows
            if index + rows > skip:  # on resume, whole row groups are skipped unread
                batches = handle.iter_batches(batch_size=size, row_groups=[group])
                yield from group_chunks(part, batches, index, skip, text_column)
            index += rows


def group_chunks(
    part: Path, batches: Iterator[Any], index: int, skip: int, column: str
) -> Iterator[Chunk]:
    for batch in batches:
        records = batch.to_pylist()
        drop = max(0, skip - index)
        if drop < len(records):
            yield parquet_chunk(part, records[drop:], index + drop, column)
        index += len(records)


def parquet_chunk(part: Path, records: list[Record], first: int, column: str) -> Chunk:
    where = f"{part}: row index"
    texts = [text_of(r[column], f"{where} {first + i}", column) for i, r in enumerate(records)]
    return Chunk(records, texts, first)
