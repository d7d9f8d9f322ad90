"""Whole bulk jobs with a stand-in three-label scorer: layout, formats, resume, refusals."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from app.bulk.__main__ import main
from app.bulk.formats import InputError
from app.bulk.job import Options, run
from app.bulk.writers import OutputError
from tests.bulk.conftest import LABELS, FakeScorer, fake_result

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

TEXTS = [f"text number {i} " + "x" * (i % 11) for i in range(25)]


def jsonl_input(path: Path, n: int = 25) -> Path:
    lines = [json.dumps({"id": i, "text": TEXTS[i], "meta": {"k": [i]}}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def csv_input(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([str(i), t] for i, t in enumerate(TEXTS))
    return path


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def expected_row(i: int, prefix: str = "") -> dict:
    answer = fake_result(TEXTS[i])
    return {
        f"{prefix}label": answer.label,
        **{f"{prefix}p_{k}": v for k, v in answer.probabilities.items()},
    }


def options(src: Path, out: Path, **kw) -> Options:
    return Options(input=src, output=out, chunk_rows=4, progress=False, **kw)


def test_jsonl_gz_output_keeps_every_field_and_adds_one_probability_per_label(
    tmp_path: Path, fake_scorer: FakeScorer
) -> None:
    out = tmp_path / "out.jsonl.gz"
    summary = run(options(jsonl_input(tmp_path / "in.jsonl"), out))
    rows = read_jsonl(out)
    assert summary.rows == 25 and len(rows) == 25
    assert rows[3] == {"id": 3, "text": TEXTS[3], "meta": {"k": [3]}, **expected_row(3)}
    assert list(rows[0])[-4:] == ["label", "p_negative", "p_neutral", "p_positive"]
    assert fake_scorer.closed
    assert not (tmp_path / "out.jsonl.gz.bulk-progress.json").exists()


def test_csv_to_tsv_with_a_prefix(tmp_path: Path, fake_scorer: FakeScorer) -> None:
    out = tmp_path / "out.tsv"
    run(options(csv_input(tmp_path / "in.csv"), out, prefix="pred_"))
    rows = list(csv.DictReader(out.open(), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[7] == {
        "id": "7",
        "text": TEXTS[7],
        **{k: str(v) for k, v in expected_row(7, "pred_").items()},
    }


def test_an_input_column_named_like_an_output_column_needs_a_prefix(
    tmp_path: Path, fake_scorer: FakeScorer
) -> None:
    src = tmp_path / "in.tsv"
    src.write_text("label\ttext\n1\tgood\n")
    with pytest.raises(InputError, match=r"columns \['label'\].*--prefix"):
        run(options(src, tmp_path / "out.csv"))


def test_parquet_output_is_a_folder_of_parts(tmp_path: Path, fake_scorer: FakeScorer) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "out.parquet"
    run(options(csv_input(tmp_path / "in.csv"), out, part_rows=10))
    parts = sorted(p.name for p in out.iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    table = pq.read_table(out)
    assert table.num_rows == 25
    assert table.column_names == ["id", "text", "label", *(f"p_{x}" for x in LABELS)]
    assert table.slice(12, 1).to_pylist()[0] == {"id": "12", "text": TEXTS[12], **expected_row(12)}


def test_parquet_in_parquet_out_keeps_types(tmp_path: Path, fake_scorer: FakeScorer) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"n": [1, 2], "text": ["a", "bb"]}), src)
    run(options(src, tmp_path / "out.parquet"))
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("n").type == pa.int64()
    assert table.column("p_neutral").type == pa.float64()


def interrupt(src: Path, out: Path, scorer: FakeScorer, monkeypatch, **kw) -> None:
    from app.bulk import job

    broken = FakeScorer(fail_after=3)  # three chunks of 4 rows, then Ctrl-C
    monkeypatch.setattr(job, "load_scorer", lambda config: broken)
    with pytest.raises(KeyboardInterrupt):
        run(options(src, out, **kw))
    monkeypatch.setattr(job, "load_scorer", lambda config: scorer)


@pytest.mark.parametrize("name", ["out.csv", "out.jsonl.gz", "out.tsv.gz"])
def test_resume_continues_a_text_output(
    tmp_path: Path, fake_scorer: FakeScorer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    src, out = jsonl_input(tmp_path / "in.jsonl"), tmp_path / name
    whole = tmp_path / ("whole" + name[3:])
    run(options(src, whole))
    interrupt(src, out, fake_scorer, monkeypatch)
    with out.open("ab") as handle:
        handle.write(b"half a chunk")  # killed in the middle of a write
    summary = run(options(src, out, mode="resume"))
    assert (summary.skipped, summary.rows) == (12, 13)
    opener = gzip.open if name.endswith(".gz") else open
    assert opener(out, "rb").read() == opener(whole, "rb").read()


def test_an_interrupted_parquet_output_leaves_readable_parts_and_resumes(
    tmp_path: Path, fake_scorer: FakeScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    src, out = jsonl_input(tmp_path / "in.jsonl"), tmp_path / "out.parquet"
    interrupt(src, out, fake_scorer, monkeypatch, part_rows=5)
    assert pq.read_table(out).num_rows == 12  # parts of 5, 5 and the 2 written before Ctrl-C
    (out / ".part-00003.parquet.inprogress").write_bytes(b"PAR1 a killed writer's part")
    assert pq.read_table(out).num_rows == 12  # readers skip hidden files
    summary = run(options(src, out, mode="resume", part_rows=5))
    assert (summary.skipped, summary.rows) == (12, 13)
    rows = pq.read_table(out).to_pylist()
    assert [r["id"] for r in rows] == list(range(25))
    assert rows[20]["p_positive"] == expected_row(20)["p_positive"]
    assert sorted(p.name for p in out.iterdir()) == [f"part-{i:05d}.parquet" for i in range(6)]


def test_an_existing_output_is_kept_unless_asked(tmp_path: Path, fake_scorer: FakeScorer) -> None:
    src, out = jsonl_input(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    run(options(src, out))
    with pytest.raises(OutputError, match="exists; pass --resume"):
        run(options(src, out))
    with pytest.raises(OutputError, match="no progress file"):
        run(options(src, out, mode="resume"))
    assert run(options(src, out, mode="overwrite")).rows == 25


def test_resume_refuses_another_job(
    tmp_path: Path, fake_scorer: FakeScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = jsonl_input(tmp_path / "in.jsonl"), tmp_path / "out.csv"
    interrupt(src, out, fake_scorer, monkeypatch)
    with pytest.raises(OutputError, match=r"another job.*prefix"):
        run(options(src, out, mode="resume", prefix="p_"))


def test_cli_names_the_row_and_exits_2(
    tmp_path: Path, fake_scorer: FakeScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n{"text": ["b"]}\n')
    assert main([str(src), str(tmp_path / "o.csv"), "--no-progress"]) == 2
    assert "in.jsonl: line 2: 'text' is list" in capsys.readouterr().err


def test_cli_progress_reports_rows_per_second(
    tmp_path: Path, fake_scorer: FakeScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    src = jsonl_input(tmp_path / "in.jsonl")
    assert main([str(src), str(tmp_path / "o.csv"), "--chunk-rows", "8"]) == 0
    err = capsys.readouterr().err
    assert "25 rows" in err and "rows/s" in err


def test_progress_bar_redraws_on_a_terminal() -> None:
    from app.bulk.job import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(total=200, done=50, stream=stream)
    bar.shown -= 1
    bar.update(50)
    bar.close()
    assert stream.getvalue().startswith("\r100/200 (50%) rows") and stream.getvalue().endswith("\n")


def payload_files(folder: Path, text_mode: str) -> list[Path]:
    """Real payload-log files, rotated once: the service's writer with a 1 kB limit."""
    from app.core.settings import Settings
    from app.core.worker import Scored
    from app.ops.metrics import Metrics
    from app.ops.payload_log import PayloadLog

    settings = Settings(
        model_dir=folder,
        payload_log=folder / "payload.jsonl",
        payload_log_sample=1.0,
        payload_log_text=text_mode,
        payload_log_max_bytes=1024,
        payload_log_backups=3,
    )
    payloads = PayloadLog(settings, Metrics())
    payloads.start()
    for i in range(12):
        answer = [Scored([0.1, 0.2, 0.7], None, "full", 0.0, 0.0)]  # type: ignore[arg-type]
        payloads.offer("sentiment-en", "2.0.1", LABELS, [TEXTS[i]], answer)
    payloads.stop()
    return sorted(folder.glob("payload.jsonl*"))


def test_payload_log_files_rescore_with_the_served_answer_beside(
    tmp_path: Path, fake_scorer: FakeScorer
) -> None:
    files = payload_files(tmp_path, "text")
    assert [f.name for f in files][:2] == ["payload.jsonl", "payload.jsonl.1"]  # rotated
    rows = []
    for number, source in enumerate(files):
        out = tmp_path / f"out{number}.jsonl"
        assert main([str(source), str(out), "--no-progress"]) == 0
        rows += read_jsonl(out)
    assert sorted(r["text"] for r in rows) == sorted(TEXTS[:12])
    assert all(r["served_label"] == "positive" for r in rows)
    assert all(r["label"] == fake_result(r["text"]).label for r in rows)


def test_a_payload_log_of_hashes_cannot_be_rescored(
    tmp_path: Path, fake_scorer: FakeScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    source = payload_files(tmp_path, "hash")[-1]
    assert main([str(source), str(tmp_path / "o.jsonl"), "--no-progress"]) == 2
    assert "payload-log line without its text" in capsys.readouterr().err
