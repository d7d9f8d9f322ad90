"""Labelled text files: TSV, CSV or JSONL, optionally gzipped.

Every problem in a file is reported as `DataError` naming the file and the line, so a user can
open the file and fix it. Column names are detected from the common spellings used by the data in
`shared/data` (IMDB `text`, NSMC `document`, GLUE `sentence`), or given explicitly.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from training.lexicon import LexiconError, emoji_ranking_rows

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

    labels: tuple[str, ...] = ("negative", "positive")  # the model's labels, index order
    file_labels: tuple[str, ...] = ()  # label name of each raw value 0, 1, ...; () = `labels`
    label_values: tuple[str, ...] = ()  # raw value per label; () = index ("0", "1") or the name
    text_column: str = ""
    label_column: str = ""
    file_format: str = "auto"  # auto | tsv | csv | jsonl | emoji_ranking
    empty_text: str = "error"  # error | skip
    unescape: bool = False  # decode literal \\uXXXX escapes (an artefact of some sources)
    others_absent: bool = False  # the file's rows are known not to have the labels it lacks

    @property
    def names(self) -> tuple[str, ...]:
        return self.file_labels or self.labels

    def allowed(self) -> int:
        """Bit mask of the model's labels a row of this file could have (a binary file: no
        neutral, unless the file is known to have left neutral texts out)."""
        missing = [n for n in self.names if n not in self.labels]
        if missing:
            raise ValueError(f"file labels {missing} are not among the model's {self.labels}")
        return ALL_LABELS if self.others_absent else self.file_mask()

    def file_mask(self) -> int:
        """Bit mask of the labels the file uses: what its rows are scored on."""
        return sum(1 << self.labels.index(n) for n in self.names)

    def label_lookup(self) -> dict[str, int]:
        """Raw label value in a file -> the model's label index."""
        if self.label_values:
            if len(self.label_values) != len(self.labels):
                raise ValueError("label_values must give one raw value per label")
            return {value: i for i, value in enumerate(self.label_values)}
        lookup: dict[str, int] = {}
        for raw, name in enumerate(self.names):
            index = self.labels.index(name)
            lookup[name] = lookup[name.lower()] = lookup[str(raw)] = index
        return lookup


@dataclass
class LabelledTexts:
    """Texts with integer labels, the labels each row could have had (a bit mask: a binary
    file's rows cannot be neutral), a loss weight per row, and the file they came from."""

    texts: list[str]
    labels: list[int]
    source: str
    allowed: list[int] = field(default_factory=list)  # per row; [] = every label
    weights: list[float] = field(default_factory=list)  # per row; [] = 1.0 each
    scored: int = -1  # bit mask of the labels the file uses, which scores are computed on

    def __post_init__(self) -> None:
        if not self.allowed:
            self.allowed = [ALL_LABELS] * len(self.texts)
        if not self.weights:
            self.weights = [1.0] * len(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int], source: str | None = None) -> LabelledTexts:
        return LabelledTexts(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            source or self.source,
            [self.allowed[i] for i in indices],
            [self.weights[i] for i in indices],
            self.scored,
        )

    def weighted(self, weight: float) -> LabelledTexts:
        return LabelledTexts(
            self.texts, self.labels, self.source, self.allowed, [weight] * len(self)
        )

    @staticmethod
    def concat(parts: Sequence[LabelledTexts]) -> LabelledTexts:
        return LabelledTexts(
            [t for p in parts for t in p.texts],
            [y for p in parts for y in p.labels],
            "+".join(p.source for p in parts),
            [a for p in parts for a in p.allowed],
            [w for p in parts for w in p.weights],
        )


ALL_LABELS = -1  # bit mask with every bit set


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


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def unescape(text: str) -> str:
    """'it\\u2019s' -> 'it’s': literal escapes some tweet sources left in their text."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _rows(path: Path, handle: Iterator[str], file_format: str) -> Iterator[tuple[int, dict]]:
    if file_format == "jsonl":
        return _jsonl_rows(path, handle)
    if file_format == "emoji_ranking":
        return emoji_ranking_rows(path, handle)
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


def _checked(path: Path, rows: Iterator[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    try:
        yield from rows
    except LexiconError as exc:
        raise DataError(path, None, str(exc)) from exc


def read_labelled(path: Path | str, options: ReadOptions) -> LabelledTexts:
    """Read every row of a labelled file, or raise DataError naming the first bad line."""
    path = Path(path)
    file_format = options.file_format if options.file_format != "auto" else _detect_format(path)
    lookup = options.label_lookup()
    texts: list[str] = []
    labels: list[int] = []
    columns: tuple[str, str] | None = None
    skipped: list[int] = []
    for line, record in _checked(path, _rows(path, _decoded_lines(path), file_format)):
        columns = columns or _columns(path, record, options)
        text, label = _parse_row(path, line, record, columns, lookup)
        if options.unescape and "\\u" in text:
            text = unescape(text)
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
    allowed = [options.allowed()] * len(texts)
    return LabelledTexts(texts, labels, path.name, allowed, scored=options.file_mask())


HASH_TENTHS = {"test": 0, "validation": 1}  # the rest of the ten hash buckets is train


def hash_tenth(text: str) -> int:
    """0-9 from the text's lower-cased, space-collapsed form: copies of a text share a bucket,
    so a hash split never puts a repeated review on both sides."""
    key = " ".join(text.lower().split()).encode("utf-8")
    return int.from_bytes(hashlib.sha1(key).digest()[:4], "big") % 10


def hash_part(data: LabelledTexts, part: str) -> LabelledTexts:
    """The rows of one part of the hash split: train, validation or test."""
    if part == "train":
        keep = [i for i, t in enumerate(data.texts) if hash_tenth(t) not in HASH_TENTHS.values()]
    else:
        keep = [i for i, t in enumerate(data.texts) if hash_tenth(t) == HASH_TENTHS[part]]
    return data.subset(keep, f"{data.source}[{part}]")


def validation_split(
    data: LabelledTexts, fraction: float, strategy: str, seed: int
) -> tuple[LabelledTexts, LabelledTexts]:
    """Carve a deterministic validation set from training data; returns (train, validation).

    `random` draws rows with a fixed seed, stratified by label. `tail` takes the last rows of each
    label in file order: IMDB files are sorted by review id, and reviews of one movie have
    neighbouring ids, so a tail block shares few movies with the rest and reads like the test set.
    `hash` is for files without any official split: a tenth of the texts (by hash) is
    validation, another tenth a test part that training never sees (`hash_part`), and
    `fraction` is not used.
    """
    if strategy == "hash":
        return hash_part(data, "train"), hash_part(data, "validation")
    if strategy not in ("tail", "random"):
        raise ValueError(f"val_split must be 'random', 'tail' or 'hash', got {strategy!r}")
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
    held_set = set(held)
    kept = [i for i in range(len(data)) if i not in held_set]
    return data.subset(kept), data.subset(sorted(held), f"{data.source}[validation]")
