"""Shared fixtures: real bundles trained from small slices of real data (once, then cached), and
the data folder, which only the tests that read data need."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from tests.factories import require_data, tiny_bundles


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection imported (torch, onnx, fastapi: millions of objects that live until
    the end) out of the garbage collector's reach, so its full passes, and pytest's own at the
    end of the session, walk only what the tests allocate."""
    gc.freeze()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data sets; a test that asks for them fails clearly when they are missing."""
    return require_data()


@pytest.fixture(scope="session")
def bundles_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding two tiny real bundles: tiny-en (three labels, with a cascade;
    TweetEval + IMDB) and tiny-ko (two labels, no cascade; NSMC). Read-only: see `model_dir`."""
    return tiny_bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture
def model_dir(bundles_root: Path, tmp_path: Path) -> Path:
    """A private copy of the bundles, safe to tamper with."""
    target = tmp_path / "models"
    shutil.copytree(bundles_root, target)
    return target
