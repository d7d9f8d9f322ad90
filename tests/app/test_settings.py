"""Settings from SENTIMENT_ environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.settings import DEFAULT_MODEL_DIR, Settings

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def test_defaults() -> None:
    settings = Settings()
    assert settings.default_model == "sentiment-en"
    assert settings.truncate is True and settings.max_wait_ms == 0
    assert settings.api_key is None and settings.cors_origins == []


def test_default_model_dir_is_inside_the_repo_whatever_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().model_dir == DEFAULT_MODEL_DIR
    assert Path(__file__).resolve().parents[2] / "model" / "bundles" == DEFAULT_MODEL_DIR


def test_environment_variables_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_SIZE", "1")
    monkeypatch.setenv("SENTIMENT_MODELS", "a, b,")
    monkeypatch.setenv("SENTIMENT_CORS_ORIGINS", "https://x.example")
    monkeypatch.setenv("SENTIMENT_API_KEY", "hunter2")
    monkeypatch.setenv("SENTIMENT_VARIANT", "int8")
    settings = Settings()
    assert settings.max_batch_size == 1 and settings.models == ["a", "b"]
    assert settings.cors_origins == ["https://x.example"] and settings.variant == "int8"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SENTIMENT_PROVIDERS", "tpu"),
        ("SENTIMENT_MAX_BATCH_SIZE", "0"),
        ("SENTIMENT_VARIANT", "fp16"),
        ("SENTIMENT_LOG_LEVEL", "LOUD"),
        ("SENTIMENT_TRUNCATE", "maybe"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
