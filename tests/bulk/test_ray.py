"""`--ray` against a real local Ray runtime: the same output as the local run, and resume."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from app.bulk import job
from app.bulk.formats import InputError
from app.bulk.job import Options, run
from app.bulk.scorer import ScorerConfig
from tests.bulk.test_scorer import imdb_slice

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_runtime():
    from app.bulk.ray_runner import start_local

    with pytest.MonkeyPatch.context() as patch:
        # Ray runs workers 15 nice levels below the raylet; on a busy machine that starves them
        patch.setenv("RAY_worker_niceness", "0")
        start_local(num_cpus=2)
    yield
    ray.shutdown()


def options(bundles_root: Path, src: Path, out: Path, scorer=None, **kw) -> Options:
    scorer = scorer or ScorerConfig(model="tiny-en", model_dir=bundles_root, max_texts=64)
    return Options(
        input=src, output=out, prefix="pred_", chunk_rows=64, progress=False, scorer=scorer, **kw
    )


def text(path: Path) -> str:
    return gzip.open(path, "rt").read() if path.suffix == ".gz" else path.read_text()


def test_ray_output_is_the_local_output(ray_runtime, bundles_root: Path, tmp_path: Path) -> None:
    src = imdb_slice(tmp_path / "imdb.tsv", 300)
    local, remote = tmp_path / "local.jsonl.gz", tmp_path / "ray.jsonl.gz"
    run(options(bundles_root, src, local))
    summary = run(options(bundles_root, src, remote, ray="auto", ray_actors=2))
    assert summary.rows == 300
    assert text(remote) == text(local)


def test_ray_sentences_output_is_the_local_output(
    ray_runtime, bundles_root: Path, tmp_path: Path
) -> None:
    src = imdb_slice(tmp_path / "imdb.tsv", 40)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    scorer = ScorerConfig(model="tiny-en", model_dir=bundles_root, max_texts=64, sentences=True)
    run(options(bundles_root, src, local, scorer=scorer))
    summary = run(options(bundles_root, src, remote, ray="auto", ray_actors=2, scorer=scorer))
    assert summary.rows == 40
    assert text(remote) == text(local) and '"pred_sentences"' in text(local)


def test_ray_resumes_a_local_output(
    ray_runtime, bundles_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = imdb_slice(tmp_path / "imdb.tsv", 200)
    whole, out = tmp_path / "whole.csv", tmp_path / "out.csv"
    run(options(bundles_root, src, whole))
    real = job.load_scorer

    class Stops:
        def __init__(self, config: ScorerConfig) -> None:
            self.inner, self.calls = real(config), 0

        def score(self, texts: list[str]):
            self.calls += 1
            if self.calls > 2:
                raise KeyboardInterrupt
            return self.inner.score(texts)

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(job, "load_scorer", Stops)
    with pytest.raises(KeyboardInterrupt):
        run(options(bundles_root, src, out))
    summary = run(options(bundles_root, src, out, mode="resume", ray="auto", ray_actors=1))
    assert (summary.skipped, summary.rows) == (128, 72)
    assert out.read_text() == whole.read_text()


def test_ray_names_the_bad_row(ray_runtime, bundles_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "fine"}\n' * 70 + '{"text": 7}\n')
    with pytest.raises(InputError, match=r"in\.jsonl: line 71: 'text' is int 7"):
        run(options(bundles_root, src, tmp_path / "o.jsonl", ray="auto", ray_actors=1))
