"""Shared fixtures: real tiny bundles (committed, or trained from small slices of real data once,
then cached), and the data folder, which only the tests that read data need.

`pytest -m unit` (make test-unit) is the tier that needs neither torch nor ../shared/data: it
collects only the modules that mark themselves `pytestmark = pytest.mark.unit` (or mark a test
so), and hides torch, onnx and the data folder, so a test that needs them fails there instead of
passing on a machine that happens to have them."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from tests import factories
from tests.factories import fixture_bundles, require_data, tiny_bundles

UNIT = "unit"
HIDDEN_IN_UNIT = ("torch", "onnx")  # the `train` extra; the unit tier runs with `serve` alone


def _unit_tier(config: pytest.Config) -> bool:
    return config.getoption("markexpr", "") == UNIT


def pytest_configure(config: pytest.Config) -> None:
    if _unit_tier(config):
        import sys

        for name in HIDDEN_IN_UNIT:
            sys.modules[name] = None  # type: ignore[assignment]  # `import torch` raises
        factories.DATA_DIR = Path("/nonexistent/unit-tier/no-data")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The unit tier leaves out the slow and Docker tests of the modules it collects."""
    if _unit_tier(config):
        slow = [i for i in items if i.get_closest_marker("slow") or i.get_closest_marker("docker")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [i for i in items if i not in slow]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the unit tier, a test module that does not mark itself unit is not even imported."""
    if _unit_tier(config) and collection_path.suffix == ".py":
        name = collection_path.name
        if name.startswith("test_"):
            return "pytest.mark.unit" not in collection_path.read_text(encoding="utf-8")
    return None


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
    TweetEval + IMDB) and tiny-ko (two labels, no cascade; NSMC), the committed ones
    (tests/fixtures/bundles). Read-only: see `model_dir`."""
    return fixture_bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="session")
def trained_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same two bundles trained by today's training code (cached by its hash), with their
    runs in `trained_root.parent / "runs"`: for tests of training and export."""
    return tiny_bundles(tmp_path_factory.mktemp("trained"))


@pytest.fixture
def model_dir(bundles_root: Path, tmp_path: Path) -> Path:
    """A private copy of the bundles, safe to tamper with."""
    target = tmp_path / "models"
    shutil.copytree(bundles_root, target)
    return target
