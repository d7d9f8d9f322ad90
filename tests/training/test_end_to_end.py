"""A tiny real run: train on a few thousand IMDB reviews, export, classify with ORT alone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.bundle import load_bundle
from tests.factories import DATA_DIR, REPO, train_run
from training.package import export_bundle

pytestmark = pytest.mark.slow  # trains and exports a real run

ORT_ONLY = """
import json, random, sys
import numpy as np, onnxruntime as ort
from model import load_bundle
from model.text import TextEncoder, pad_batch
bundle = load_bundle(sys.argv[1])
encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
session = ort.InferenceSession(str(bundle.model_path()), providers=["CPUExecutionProvider"])
lines = [l.rstrip("\\n").split("\\t", 1) for l in open(sys.argv[2], encoding="utf-8", newline="")]
pairs = random.Random(0).sample(lines, 400)
correct = 0
for start in range(0, len(pairs), 50):
    chunk = pairs[start:start + 50]
    ids = pad_batch(encoder.ids_only([t for _, t in chunk]))
    predicted = session.run(["logits"], {"input_ids": ids})[0].argmax(1)
    correct += sum(int(p) == int(y) for p, (y, _) in zip(predicted, chunk))
print(json.dumps({"accuracy": correct / len(pairs), "torch": "torch" in sys.modules}))
"""


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("small")
    run = train_run(
        work / "run",
        name="small-en",
        train_files=["imdb/train.tsv.gz"],
        max_train_rows=3000,
        vocab_size=6000,
        embed_dim=32,
        hidden_dim=32,
        max_length=256,
        head_tokens=64,
        epochs=2,
        ngram_buckets=1 << 16,
    )
    return export_bundle(run, work / "bundle")


def imdb_test_slice(tmp_path: Path) -> Path:
    import gzip

    with gzip.open(DATA_DIR / "imdb/test.tsv.gz", "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")[1:-1]  # not splitlines(): texts hold U+2028 etc.
    target = tmp_path / "imdb_test.tsv"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return target


def test_tiny_run_is_clearly_above_chance_with_onnx_runtime_alone(small_bundle: Path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", ORT_ONLY, str(small_bundle), str(imdb_test_slice(tmp_path))],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["torch"] is False
    assert report["accuracy"] >= 0.70


def test_bundle_records_metrics_config_and_checks(small_bundle: Path):
    manifest = load_bundle(small_bundle).manifest
    assert set(manifest.variants) == {"fp32", "int8"}
    assert manifest.variants["int8"].metrics["validation:imdb-train"]["n"] == 300
    assert manifest.cascade["file"] == "fast.onnx" and manifest.cascade["threshold"] > 0.0
    assert "imdb-train" in manifest.cascade["validation"]
    assert manifest.training_config["max_train_rows"] == 3000
    assert manifest.architecture["export_checks"]["padding_max_diff"] <= 1e-4
    assert "onnxruntime" in manifest.library_versions
    assert (small_bundle / "README.md").read_text().startswith("# small-en")
