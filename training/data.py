"""Labelled text files: TSV, CSV or JSONL, optionally gzipped.

Every problem in a file is reported as `DataError` naming the file and the line, so a user can
open the file and fix it. Column names are detected from the common spellings used by the data in
`shared/data` (IMDB `text`, NSMC `document`, GLUE `sentence`), or given explicitly.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "sentence", "document", "review", "content")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "labels")
csv.field_size_limit(1 << 24)


class DataError(Exception):
    """A labelled file cannot be used; the message says which file, which line and why."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


@dataclass(frozen=True)
class ReadOptions:
    """How to read one labelled file; empty column names mean auto-detect."""

    labels: tuple[str, ...] = ("negative", "positive")
    label_values: tuple[str, ...] = ()  # raw value per label; () = index ("0", "1") or the name
    text_column: str = ""
    label_column: str = ""
    file_format: str = "auto"  # auto | tsv | csv | jsonl
    empty_text: str = "error"  # error | skip

    def label_lookup(self) -> dict[str, int]:
        """Raw label value in a file -> label index."""
        lookup: dict[str, int] = {}
        for index, name in enumerate(self.labels):
            lookup[name] = index
            lookup[name.lower()] = index
            lookup[str(index)] = index
        if self.label_values:
            if len(self.label_values) != len(self.labels):
                raise ValueError("label_values must give one raw value per label")
            lookup = {value: i for i, value in enumerate(self.label_values)}
        return lookup


@dataclass
class LabelledTexts:
    """Texts with integer labels, plus the file each came from (for messages and reports)."""

    texts: list[str]
    labels: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int], source: str | None = None) -> LabelledTexts:
        return LabelledTexts(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            source or self.source,
        )

    @staticmethod
    def concat(parts: Sequence[LabelledTexts]) -> LabelledTexts:
        texts = [t for p in parts for t in p.texts]
        labels = [y for p in parts for y in p.labels]
        return LabelledTexts(texts, labels, "+".join(p.source for p in parts))


def _detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    formats = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
    if last not in formats:
        raise DataError(path, None, "cannot tell the format from the name; set file_format")
    return formats[last]


def _decoded_lines(path: Path) -> Iterator[str]:
    """Lines of a (gzipped) UTF-8 file, decoded one by one so an error names its exact line."""
    if not path.is_file():
        raise DataError(path, None, "file does not exist")
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    # strict: a wrong encoding must fail loudly instead of corrupting text
                    yield line.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(
                        path, number, f"bytes are not UTF-8 ({exc.reason}); re-encode the file"
                    ) from exc
    except (OSError, EOFError) as exc:
        raise DataError(path, None, f"cannot read ({exc})") from exc


def _pick_column(path: Path, header: Sequence[str], wanted: str, guesses: tuple[str, ...]) -> str:
    if wanted:
        if wanted not in header:
            raise DataError(path, 1, f"missing column {wanted!r}; the header has {list(header)}")
        return wanted
    for guess in guesses:
        if guess in header:
            return guess
    raise DataError(
        path,
        1,
        f"no column named any of {list(guesses)}; header has {list(header)}; "
        "set text_column / label_column",
    )


def _delimited_rows(
    path: Path, handle: Iterator[str], delimiter: str
) -> Iterator[tuple[int, dict]]:
    # QUOTE_NONE for TSV: reviews contain stray quotes that are text, not field delimiters
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
    header = next(reader, None)
    if header is None:
        raise DataError(path, None, "file is empty")
    for row in reader:
        line = reader.line_num
        if len(row) != len(header):
            raise DataError(path, line, f"expected {len(header)} fields, found {len(row)}")
        yield line, dict(zip(header, row, strict=True))


def _jsonl_rows(path: Path, handle: Iterator[str]) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(path, line, f"invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise DataError(path, line, "each line must be a JSON object")
        yield line, record


def _rows(path: Path, handle: Iterator[str], file_format: str) -> Iterator[tuple[int, dict]]:
    if file_format == "jsonl":
        return _jsonl_rows(path, handle)
    return _delimited_rows(path, handle, "\t" if file_format == "tsv" else ",")


def _parse_row(
    path: Path, line: int, record: dict, columns: tuple[str, str], lookup: dict[str, int]
) -> tuple[str, int]:
    text_col, label_col = columns
    if text_col not in record or label_col not in record:
        missing = text_col if text_col not in record else label_col
        raise DataError(path, line, f"missing column {missing!r}")
    raw_label = record[label_col]
    label = lookup.get(str(raw_label).strip()) if raw_label is not None else None
    if label is None:
        expected = ", ".join(sorted(lookup))
        raise DataError(
            path, line, f"unknown or missing label {raw_label!r}; expected one of {expected}"
        )
    text = record[text_col]
    if not isinstance(text, str):
        raise DataError(path, line, f"text must be a string, found {type(text).__name__}")
    return text, label


def _columns(path: Path, record: dict, options: ReadOptions) -> tuple[str, str]:
    header = list(record)
    return (
        _pick_column(path, header, options.text_column, TEXT_COLUMNS),
        _pick_column(path, header, options.label_column, LABEL_COLUMNS),
    )


def read_labelled(path: Path | str, options: ReadOptions) -> LabelledTexts:
    """Read every row of a labelled file, or raise DataError naming the first bad line."""
    path = Path(path)
    file_format = options.file_format if options.file_format != "auto" else _detect_format(path)
    lookup = options.label_lookup()
    texts: list[str] = []
    labels: list[int] = []
    columns: tuple[str, str] | None = None
    skipped: list[int] = []
    for line, record in _rows(path, _decoded_lines(path), file_format):
        columns = columns or _columns(path, record, options)
        text, label = _parse_row(path, line, record, columns, lookup)
        if not text.strip():
            if options.empty_text != "skip":
                raise DataError(path, line, "empty text; fix the row or set empty_text = 'skip'")
            skipped.append(line)
            continue
        texts.append(text)
        labels.append(label)
    if not texts:
        raise DataError(path, None, "file is empty: no labelled rows")
    if skipped:
        log.warning("%s: skipped %d empty texts (lines %s)", path, len(skipped), skipped[:10])
    return LabelledTexts(texts, labels, path.name)


def validation_split(
    data: LabelledTexts, fraction: float, strategy: str, seed: int
) -> tuple[LabelledTexts, LabelledTexts]:
    """Carve a deterministic validation set from training data; returns (train, validation).

    `random` draws rows with a fixed seed, stratified by label. `tail` takes the last rows of each
    label in file order: IMDB files are sorted by review id, and reviews of one movie have
    neighbouring ids, so a tail block shares few movies with the rest and reads like the test set.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {fraction}")
    by_label: dict[int, list[int]] = {}
    for index, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(index)
    rng = random.Random(seed)
    held: list[int] = []
    for indices in by_label.values():
        count = max(1, round(len(indices) * fraction))
        held += indices[-count:] if strategy == "tail" else rng.sample(indices, count)
    if strategy not in ("tail", "random"):
        raise ValueError(f"val_split must be 'random' or 'tail', got {strategy!r}")
    held_set = set(held)
    kept = [i for i in range(len(data)) if i not in held_set]
    return data.subset(kept), data.subset(sorted(held), f"{data.source}[validation]")
