"""The README's architecture sketch names only files and folders that exist.

In the sketch (the code block under "## Architecture") a line that starts with a name is an
entry: a folder (`core/`) holds the lines indented below it, and the other names on a folder's
line are in it (`ops/  metrics.py, logs.py`). Any other name lives in the folder the line is
indented under (the repository root for lines that are not), and `<name>` stands for every
shipped bundle. In the prose after the sketch, paths with a slash inside and link targets are
checked from the root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

EXTENSIONS = "py|onnx|json|md|weights|proto|toml|yaml|yml|html|js|css"
NAME = re.compile(
    rf"(?<![\w/.<>-])((?:[\w<>-]+/)*(?:[\w<>-]+/|[\w-]+\.(?:{EXTENSIONS})))(?![\w/.-])"
)
LINK = re.compile(r"\]\(([^)#]+)\)")


def architecture_section(readme: str) -> tuple[str, str]:
    """(the sketch, the prose after it) of the README's Architecture section."""
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    _, sketch, prose = section.split("```", 2)
    return sketch, prose


def expand(path: str) -> list[Path]:
    """A named path as real paths: `<name>` is every shipped bundle."""
    if "<name>" not in path:
        return [REPO / path]
    head, tail = path.split("<name>", 1)
    return [folder / tail.lstrip("/") for folder in sorted((REPO / head).iterdir())]


def sketch_paths(sketch: str) -> list[str]:
    paths: list[str] = []
    folders: list[tuple[int, str]] = []  # (indent, path) of the enclosing folder entries
    for line in sketch.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = folders[-1][1] if folders else ""
        found = [(m.start(), m.group(1)) for m in NAME.finditer(line)]
        for start, name in found:
            path = parent + name
            if start == indent and name.endswith("/"):
                folders.append((indent, path))  # the line's entry: names after it live in it
                parent = path
            paths.append(path)
    return paths


def prose_paths(prose: str) -> list[str]:
    named = [n for n in NAME.findall(prose) if "/" in n.rstrip("/")]
    return named + [link for link in LINK.findall(prose) if "://" not in link]


def test_every_path_in_the_architecture_section_exists() -> None:
    sketch, prose = architecture_section((REPO / "README.md").read_text())
    named = sketch_paths(sketch) + prose_paths(prose)
    missing = [p for p in named for real in expand(p) if not real.exists()]
    assert len(named) > 50, named  # the sketch was read
    assert not missing, missing


def test_the_sketch_reader_resolves_folders_and_placeholders() -> None:
    sketch = (
        "\noffline training/ --> model/bundles/<name>/\n"
        "app/       online\n"
        "  ops/     metrics.py, logs.py\n"
        "  core/    texts in\n"
        "    service.py, nothere.py   settings\n"
        "  main.py  create_app()\n"
    )
    assert sketch_paths(sketch) == [
        "training/",
        "model/bundles/<name>/",
        "app/",
        "app/ops/",
        "app/ops/metrics.py",
        "app/ops/logs.py",
        "app/core/",
        "app/core/service.py",
        "app/core/nothere.py",
        "app/main.py",
    ]
    assert [p for p in expand("model/bundles/<name>/fast.onnx") if p.exists()]
