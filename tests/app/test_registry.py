"""Loading bundles: verification, the bad-bundle policy, subsets and the default model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.core.registry import LoadPlan, StartupError, load_registry
from app.main import create_app
from tests.app.conftest import make_settings, serving

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

PLAN = LoadPlan()


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_loads_and_verifies_every_bundle(model_dir: Path) -> None:
    registry = load_registry(make_settings(model_dir), PLAN)
    assert set(registry.models) == {"tiny-en", "tiny-ko"} and registry.failed == {}


def test_tampered_default_model_stops_startup_naming_the_file(model_dir: Path) -> None:
    tamper(model_dir / "tiny-en" / "model.onnx")
    with pytest.raises(StartupError, match=r"tiny-en.*model\.onnx.*sha256"):
        load_registry(make_settings(model_dir), PLAN)


def test_tampered_listed_model_stops_startup(model_dir: Path) -> None:
    tamper(model_dir / "tiny-ko" / "tokenizer.json")
    settings = make_settings(model_dir, models="tiny-en,tiny-ko")
    with pytest.raises(StartupError, match=r"tokenizer\.json"):
        load_registry(settings, PLAN)


def test_tampered_extra_bundle_is_refused_and_the_rest_served(model_dir: Path) -> None:
    tamper(model_dir / "tiny-ko" / "model.int8.onnx")
    registry = load_registry(make_settings(model_dir), PLAN)
    assert set(registry.models) == {"tiny-en"}
    assert "model.int8.onnx" in registry.failed["tiny-ko"]


def test_missing_file_is_named(model_dir: Path) -> None:
    (model_dir / "tiny-en" / "tokenizer.json").unlink()
    with pytest.raises(StartupError, match=r"tokenizer\.json: file is missing"):
        load_registry(make_settings(model_dir), PLAN)


def test_models_setting_serves_a_subset(model_dir: Path) -> None:
    tamper(model_dir / "tiny-en" / "model.onnx")  # not listed, so never even read
    settings = make_settings(model_dir, models="tiny-ko", default_model="tiny-ko")
    assert set(load_registry(settings, PLAN).models) == {"tiny-ko"}


def test_unknown_listed_model_stops_startup(model_dir: Path) -> None:
    with pytest.raises(StartupError, match=r"\['nope'\].*tiny-en"):
        load_registry(make_settings(model_dir, models="nope"), PLAN)


def test_absent_default_falls_back_to_first_bundle(model_dir: Path) -> None:
    registry = load_registry(make_settings(model_dir, default_model="sentiment-en"), PLAN)
    assert registry.default == "tiny-en"


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="SENTIMENT_MODEL_DIR"):
        load_registry(make_settings(tmp_path / "nowhere"), PLAN)


def test_empty_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="no model bundle"):
        load_registry(make_settings(tmp_path), PLAN)


def test_duplicate_names_stop_startup(model_dir: Path) -> None:
    shutil.copytree(model_dir / "tiny-en", model_dir / "copy")
    with pytest.raises(StartupError, match="two bundles are named 'tiny-en'"):
        load_registry(make_settings(model_dir), PLAN)


@pytest.mark.anyio
async def test_service_with_bad_default_never_reports_ready(model_dir: Path) -> None:
    tamper(model_dir / "tiny-en" / "model.onnx")
    app = create_app(make_settings(model_dir))
    async with serving(app) as client:
        ready = await client.get("/ready")
        predict = await client.post("/predict", json={"text": "good"})
        health = await client.get("/health")
    assert app.state.service.failure is not None
    assert ready.status_code == 503 and "model.onnx" in ready.json()["error"]
    assert predict.status_code == 503
    assert health.status_code == 200


@pytest.mark.anyio
async def test_service_lists_refused_bundle(model_dir: Path) -> None:
    tamper(model_dir / "tiny-ko" / "model.onnx")
    async with serving(create_app(make_settings(model_dir))) as client:
        assert (await client.get("/ready")).status_code == 200
        models = (await client.get("/models")).json()
        refused = await client.post("/predict", json={"text": "x", "model": "tiny-ko"})
    assert "tiny-ko" in models["failed"]
    assert refused.status_code == 404


def test_a_bundle_without_the_asked_variant_serves_its_default(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    from model.bundle import MANIFEST, read_manifest, write_manifest

    fp32_only = model_dir / "tiny-ko-fp32"
    shutil.copytree(model_dir / "tiny-ko", fp32_only)
    manifest = read_manifest(fp32_only)
    manifest.name, manifest.variants = fp32_only.name, {"fp32": manifest.variants["fp32"]}
    (fp32_only / "model.int8.onnx").unlink()
    (fp32_only / MANIFEST).unlink()
    write_manifest(fp32_only, manifest)
    settings = make_settings(model_dir, models="tiny-en,tiny-ko-fp32")
    with caplog.at_level("WARNING", logger="app.core.registry"):
        registry = load_registry(settings, replace(PLAN, variant="int8"))
    variants = {name: w.scorer.full.variant for name, w in registry.models.items()}
    assert variants == {"tiny-en": "int8", "tiny-ko-fp32": "fp32"} and registry.failed == {}
    assert f"model {fp32_only.name} has no int8 graph (it has fp32): serving fp32" in caplog.text
