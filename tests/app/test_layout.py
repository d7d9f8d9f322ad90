"""`app/` imports run one way, checked by parsing every module with `ast`.

Layers, bottom to top: `core` (texts in, probabilities out) <- `ops` (metrics and logs, which
observe the core) <- `http` (the FastAPI routes, middleware and error responses) <- `v2` (the
Open Inference Protocol over REST and gRPC, which reuses http's pieces) <- `app.main` and
`app.__main__` (the composition root). A module imports its own layer and those below it, never
one above. `app.bulk` scores files with the core alone. The core and ops know no web framework
and no gRPC; the core no metrics library either. Imports under `if TYPE_CHECKING:` never run and
are not counted (the core names `Metrics` only in annotations).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

APP = REPO / "app"
LAYERS = ("core", "ops", "http", "v2")  # bottom to top
TOP = {"app", "app.main", "app.__main__"}  # the package itself and the composition root
FRAMEWORKS = {"fastapi", "starlette", "uvicorn", "grpc", "grpc_health"}
FORBIDDEN_PACKAGES = {
    "core": FRAMEWORKS | {"prometheus_client"},
    "ops": FRAMEWORKS,
    "bulk": FRAMEWORKS | {"prometheus_client"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str) -> set[str]:
    """Every module an import statement names (with `from a import b`, both `a` and `a.b`),
    at any depth, except under `if TYPE_CHECKING:`."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def layer_of(module: str) -> str | None:
    """ "core", "ops", "http", "v2", "bulk", "top", or None for a module outside every layer."""
    if module in TOP:
        return "top"
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in (*LAYERS, "bulk") else None


def allowed(importer: str, imported: str) -> bool:
    """Whether `importer`'s layer may import `imported` (an app module)."""
    source, target = layer_of(importer), layer_of(imported)
    if target == "top":
        return imported == "app" or source == "top"  # `from app import __version__`
    if source == "top" or target is None:
        return True  # the root may import anything; a name inside a module is not a layer
    if source == "bulk":
        return target in ("bulk", "core")
    if source is None or target == "bulk":
        return False
    return LAYERS.index(target) <= LAYERS.index(source)


def upward_imports(module: str, source: str) -> list[str]:
    app_modules = modules()
    problems = []
    for name in sorted(runtime_imports(source)):
        if name.split(".")[0] == "app" and name in app_modules and not allowed(module, name):
            problems.append(f"{module} imports {name}")
        if name.split(".")[0] in FORBIDDEN_PACKAGES.get(layer_of(module) or "", set()):
            problems.append(f"{module} imports {name}")
    return problems


def test_every_module_is_in_a_layer() -> None:
    loose = [m for m in modules() if m not in TOP and layer_of(m) is None]
    assert not loose, f"put these in core/, ops/, http/, v2/ or bulk/: {loose}"


def test_imports_only_run_down_the_layers() -> None:
    problems = [
        problem
        for module, path in modules().items()
        for problem in upward_imports(module, path.read_text())
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("app.core.worker", "from app.http.responses import JSONBytesResponse"),
        ("app.core.worker", "def f():\n    import app.v2.infer"),
        ("app.core.errors", "from fastapi import Request"),
        ("app.core.service", "from app.ops.metrics import Metrics"),
        ("app.ops.metrics", "from app.http import middleware"),
        ("app.http.routes.predict", "from app.v2.infer import infer"),
        ("app.http.deps", "from app.main import create_app"),
        ("app.bulk.scorer", "from app.ops.metrics import Metrics"),
    ],
)
def test_an_upward_import_is_caught(module: str, source: str) -> None:
    assert upward_imports(module, source)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("app.core.service", "if TYPE_CHECKING:\n    from app.ops.metrics import Metrics"),
        ("app.ops.metrics", "from app.core.batcher import BatchStats"),
        ("app.v2.rest_routes", "from app.http.deps import ServiceDep"),
        ("app.v2.infer", "from app import __version__"),
        ("app.main", "from app.v2 import rest_routes"),
    ],
)
def test_a_downward_import_passes(module: str, source: str) -> None:
    assert not upward_imports(module, source)


def test_no_file_name_repeats_across_folders() -> None:
    names = Counter(
        p.name for p in APP.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    assert not [n for n, count in names.items() if count > 1]
