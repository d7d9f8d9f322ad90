import json
from pathlib import Path

import pytest

from model.bundle import (
    MANIFEST,
    BundleError,
    Manifest,
    Truncation,
    Variant,
    discover_bundles,
    load_bundle,
    write_manifest,
)

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def make_bundle(folder: Path, name: str = "demo") -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"graph bytes")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "README.md").write_text("# card\n")
    manifest = Manifest(
        name=name,
        version="1.0.0",
        language="en",
        labels=["negative", "positive"],
        truncation=Truncation(128, 32),
        pad_id=0,
        opset=17,
        variants={"fp32": Variant("model.onnx", "fp32", {"test": {"accuracy": 0.9, "n": 10}})},
    )
    write_manifest(folder, manifest)
    return folder


def test_round_trip_keeps_every_field(tmp_path: Path):
    bundle = load_bundle(make_bundle(tmp_path / "demo"))
    assert bundle.name == "demo" and bundle.manifest.max_length == 128
    assert bundle.manifest.metrics["test"]["accuracy"] == 0.9
    assert set(bundle.manifest.files) == {"model.onnx", "tokenizer.json", "README.md"}
    assert bundle.model_path() == tmp_path / "demo" / "model.onnx"


def test_a_changed_byte_is_refused_naming_the_file(tmp_path: Path):
    folder = make_bundle(tmp_path / "demo")
    (folder / "model.onnx").write_bytes(b"graph bytez")
    with pytest.raises(BundleError, match=r"model.onnx: sha256 .* does not match"):
        load_bundle(folder)


def test_a_truncated_file_is_refused(tmp_path: Path):
    folder = make_bundle(tmp_path / "demo")
    (folder / "tokenizer.json").write_text("")
    with pytest.raises(BundleError, match=r"tokenizer\.json: sha256"):
        load_bundle(folder)


def test_a_missing_file_is_refused(tmp_path: Path):
    folder = make_bundle(tmp_path / "demo")
    (folder / "model.onnx").unlink()
    with pytest.raises(BundleError, match=r"model\.onnx: file is missing"):
        load_bundle(folder)


def test_a_missing_manifest_is_refused(tmp_path: Path):
    folder = make_bundle(tmp_path / "demo")
    (folder / MANIFEST).unlink()
    with pytest.raises(BundleError, match="manifest is missing"):
        load_bundle(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("labels"), "malformed manifest"),
        (lambda m: m.update(name="../escape"), "bundle name"),
        (lambda m: m.update(format_version=99), "format_version 99"),
        (lambda m: m["files"].update({"../../etc/passwd": "0" * 64}), "outside the bundle"),
        (lambda m: m["files"].pop("tokenizer.json"), "no checksum for"),
    ],
)
def test_malformed_or_hostile_manifests_are_refused(tmp_path: Path, change, message: str):
    folder = make_bundle(tmp_path / "demo")
    data = json.loads((folder / MANIFEST).read_text())
    change(data)
    (folder / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


def test_manifest_that_is_not_json_is_refused(tmp_path: Path):
    folder = make_bundle(tmp_path / "demo")
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(folder)


def test_discovery_lists_only_folders_with_a_manifest(tmp_path: Path):
    make_bundle(tmp_path / "b", "b")
    make_bundle(tmp_path / "a", "a")
    (tmp_path / "empty").mkdir()
    assert [p.name for p in discover_bundles(tmp_path)] == ["a", "b"]
