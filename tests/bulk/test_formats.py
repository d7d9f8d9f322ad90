"""Readers of app.bulk: formats by suffix, streaming chunks, and errors that name the row."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.bulk.formats import InputError, Source, file_kind

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def chunks(path: Path, column: str = "text", size: int = 2, skip: int = 0) -> list:
    return list(Source(path, column, size).chunks(skip))


def texts(path: Path, **kw) -> list[str]:
    return [t for c in chunks(path, **kw) for t in c.texts]


@pytest.mark.parametrize(
    ("name", "kind", "zipped"),
    [
        ("a.csv", "csv", False),
        ("a.TSV.gz", "tsv", True),
        ("a.b.jsonl", "jsonl", False),
        ("a.ndjson.gz", "jsonl", True),
        ("a.parquet", "parquet", False),
        ("payload.jsonl.3", "jsonl", False),  # rotated by the payload log
        ("payload.jsonl.12", "jsonl", False),
    ],
)
def test_kind_follows_the_suffix(name: str, kind: str, zipped: bool) -> None:
    found = file_kind(Path(name))
    assert (found.kind, found.gzip) == (kind, zipped)


@pytest.mark.parametrize("name", ["a.txt", "a.gz", "a", "a.parquet.gz", "a.1", "a.txt.1"])
def test_unknown_or_odd_suffixes_are_refused(name: str) -> None:
    with pytest.raises(InputError, match=r"suffix|unknown format"):
        file_kind(Path(name))


def test_csv_chunks_carry_every_column_and_track_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,"a, with comma"\n2,"two\nlines"\n3,c\n')
    found = chunks(path)
    assert [c.first_row for c in found] == [0, 2]
    assert found[0].records[1] == {"id": "2", "text": "two\nlines"}
    assert texts(path) == ["a, with comma", "two\nlines", "c"]


def test_tsv_reads_quotes_as_text_and_gzip_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "in.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('label\ttext\n0\t"quoted" start\n1\tend "\n')
    assert texts(path) == ['"quoted" start', 'end "']


def test_resume_skips_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"text": str(i)}) + "\n" for i in range(5)))
    found = chunks(path, skip=3)
    assert [c.first_row for c in found] == [3] and found[0].texts == ["3", "4"]


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,"two\nlines"\n2,ok,extra\n')
    with pytest.raises(InputError, match=r"in\.csv: line 4: 3 fields, but the header has 2"):
        chunks(path)


def test_a_missing_column_names_the_header_and_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "in.tsv"
    path.write_text("label\treview\n1\tgood\n")
    with pytest.raises(InputError, match=r"line 1: no column 'text'.*--text-column"):
        _ = Source(path, "text", 2).columns
    assert texts(path, column="review") == ["good"]


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"\n')
    with pytest.raises(InputError, match=r"in\.jsonl: line 3: not valid JSON"):
        chunks(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": 42}', r"line 2: 'text' is int 42, not a string"),
        ('{"text": null}', r"line 2: 'text' is NoneType None, not a string"),
        ('{"body": "x"}', r"line 2: no field 'text'"),
        ('["text"]', r"line 2: a JSON list, expected an object"),
        ('{"text": "\\ud800"}', r"line 2: 'text' holds a lone UTF-16 surrogate"),
    ],
)
def test_jsonl_rows_must_hold_text(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n")
    with pytest.raises(InputError, match=message):
        chunks(path)


def test_a_truncated_gzip_stream_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv.gz"
    data = gzip.compress(("text\n" + "some text\n" * 1000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot be read to the end"):
        chunks(path, size=10_000)


def write_parquet(path: Path, rows: list[dict], group: int = 2) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=group)
    return path


def test_parquet_chunks_skip_whole_row_groups_on_resume(tmp_path: Path) -> None:
    rows = [{"id": i, "text": f"t{i}"} for i in range(7)]
    path = write_parquet(tmp_path / "in.parquet", rows)
    source = Source(path, "text", 3)
    assert source.total == 7 and source.columns == ["id", "text"]
    found = list(source.chunks(skip=3))
    assert [t for c in found for t in c.texts] == ["t3", "t4", "t5", "t6"]
    assert found[0].first_row == 3 and found[0].records[0] == {"id": 3, "text": "t3"}


def test_parquet_text_must_be_strings(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "in.parquet", [{"text": 1}])
    with pytest.raises(InputError, match="column 'text' holds int64, not strings"):
        chunks(path)
    path = write_parquet(tmp_path / "nulls.parquet", [{"text": "a"}, {"text": None}])
    with pytest.raises(InputError, match=r"row index 1: 'text' is NoneType"):
        chunks(path)
