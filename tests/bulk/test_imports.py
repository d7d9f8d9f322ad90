"""app.bulk imports no training code, and Ray and pyarrow only inside the functions that need
them: a local CSV/TSV/JSONL job runs with the `serve` extra alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

OPTIONAL = {"ray", "pyarrow"}


def imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module.split(".")[0]]
    return []


def test_bulk_modules_import_optional_packages_lazily() -> None:
    for path in sorted((REPO / "app" / "bulk").glob("*.py")):
        tree = ast.parse(Path(path).read_text())
        everywhere = {name for node in ast.walk(tree) for name in imported(node)}
        top = {name for node in tree.body for name in imported(node)}
        assert not everywhere & {"torch", "training"}, path
        assert not top & OPTIONAL, f"{path} imports {top & OPTIONAL} at module level"
