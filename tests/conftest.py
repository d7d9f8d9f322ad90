"""Shared fixtures: real bundles trained once per test session from small slices of real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.factories import DATA_DIR, build_english_bundle, build_korean_bundle


def pytest_configure(config: pytest.Config) -> None:
    if not DATA_DIR.is_dir():
        raise pytest.UsageError(
            f"test data not found at {DATA_DIR}; set SENTIMENT_DATA_DIR to the shared data folder"
        )


@pytest.fixture(scope="session")
def bundles_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding two tiny real bundles: tiny-en (IMDB) and tiny-ko (NSMC)."""
    work = tmp_path_factory.mktemp("bundles")
    build_english_bundle(work)
    build_korean_bundle(work)
    return work / "bundles"


@pytest.fixture
def model_dir(bundles_root: Path, tmp_path: Path) -> Path:
    """A private copy of the bundles, safe to tamper with."""
    target = tmp_path / "models"
    shutil.copytree(bundles_root, target)
    return target
