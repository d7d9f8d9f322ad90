import gzip
import json
from pathlib import Path

import pytest

from tests.factories import DATA_DIR, write_lines
from training.data import DataError, ReadOptions, read_labelled, validation_split

OPTIONS = ReadOptions()


def test_reads_tsv_with_detected_columns(tmp_path: Path):
    path = write_lines(tmp_path / "a.tsv", ["label\ttext", "1\tgreat film", "0\tdull"])
    data = read_labelled(path, OPTIONS)
    assert data.texts == ["great film", "dull"] and data.labels == [1, 0]


def test_reads_gzipped_csv_with_quoted_commas(tmp_path: Path):
    path = write_lines(tmp_path / "a.csv.gz", ["review,sentiment", '"good, really",positive'])
    data = read_labelled(path, OPTIONS)
    assert data.texts == ["good, really"] and data.labels == [1]


def test_reads_jsonl_with_named_columns_and_label_values(tmp_path: Path):
    rows = [json.dumps({"body": "meh", "stars": "1"}), json.dumps({"body": "wow", "stars": "5"})]
    path = write_lines(tmp_path / "a.jsonl", rows)
    options = ReadOptions(text_column="body", label_column="stars", label_values=("1", "5"))
    assert read_labelled(path, options).labels == [0, 1]


def test_reads_more_than_two_labels(tmp_path: Path):
    path = write_lines(tmp_path / "a.tsv", ["label\ttext", "neutral\tok", "2\tgood", "0\tbad"])
    options = ReadOptions(labels=("negative", "neutral", "positive"))
    assert read_labelled(path, options).labels == [1, 2, 0]


@pytest.mark.parametrize(
    ("name", "lines", "message"),
    [
        ("missing_column.tsv", ["label\tbody", "1\tgood"], "no column named any of"),
        (
            "unknown_label.tsv",
            ["label\ttext", "1\tgood", "7\tbad"],
            ":3: unknown or missing label '7'",
        ),
        ("missing_label.tsv", ["label\ttext", "\tgood"], ":2: unknown or missing label ''"),
        ("empty_text.tsv", ["label\ttext", "1\tgood", "0\t  "], ":3: empty text"),
        ("header_only.tsv", ["label\ttext"], "file is empty"),
        ("fields.tsv", ["label\ttext", "1\tgood\textra"], ":2: expected 2 fields, found 3"),
        ("bad.jsonl", ['{"label": 1, "text": "ok"}', "{oops"], ":2: invalid JSON"),
    ],
)
def test_bad_files_name_file_line_and_problem(tmp_path: Path, name: str, lines: list, message: str):
    path = write_lines(tmp_path / name, lines)
    with pytest.raises(DataError, match=message) as caught:
        read_labelled(path, OPTIONS)
    assert name in str(caught.value)


def test_undecodable_bytes_name_the_exact_line(tmp_path: Path):
    path = tmp_path / "latin1.tsv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"label\ttext\n1\tfine\n" + b"0\tcaf\xe9 au lait\n")
    with pytest.raises(DataError, match=r"latin1.tsv.gz:3: bytes are not UTF-8"):
        read_labelled(path, OPTIONS)


def test_zero_byte_file_is_empty(tmp_path: Path):
    path = tmp_path / "nothing.tsv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="file is empty"):
        read_labelled(path, OPTIONS)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(DataError, match="does not exist"):
        read_labelled(tmp_path / "nope.tsv", OPTIONS)


def test_empty_text_can_be_skipped(tmp_path: Path):
    path = write_lines(tmp_path / "a.tsv", ["label\ttext", "1\tgood", "0\t"])
    assert len(read_labelled(path, ReadOptions(empty_text="skip"))) == 1


@pytest.mark.parametrize(
    ("relative", "rows", "options"),
    [
        ("imdb/test.tsv.gz", 25_000, OPTIONS),
        ("nsmc/ratings_test.txt.gz", 49_997, ReadOptions(empty_text="skip")),
        ("sst2/glue_dev.tsv.gz", 872, OPTIONS),
        ("sst2/sent_test.tsv.gz", 1_821, OPTIONS),
        ("rt-polarity/rt-polarity.tsv.gz", 10_662, OPTIONS),
    ],
)
def test_shared_data_formats_work_out_of_the_box(relative: str, rows: int, options: ReadOptions):
    data = read_labelled(DATA_DIR / relative, options)
    assert len(data) == rows and set(data.labels) == {0, 1}


def test_tail_split_holds_the_last_rows_of_each_label(tmp_path: Path):
    lines = ["label\ttext"] + [f"{i % 2}\ttext {i}" for i in range(40)]
    data = read_labelled(write_lines(tmp_path / "a.tsv", lines), OPTIONS)
    train, val = validation_split(data, 0.1, "tail", seed=0)
    assert sorted(val.texts) == ["text 36", "text 37", "text 38", "text 39"]
    assert len(train) == 36


def test_random_split_is_deterministic_and_stratified(tmp_path: Path):
    lines = ["label\ttext"] + [f"{int(i < 30)}\ttext {i}" for i in range(100)]
    data = read_labelled(write_lines(tmp_path / "a.tsv", lines), OPTIONS)
    first = validation_split(data, 0.2, "random", seed=3)[1]
    again = validation_split(data, 0.2, "random", seed=3)[1]
    assert first.texts == again.texts
    assert sorted(first.labels) == [0] * 14 + [1] * 6
