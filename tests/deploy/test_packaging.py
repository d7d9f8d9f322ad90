"""Packaging: the serving extras never require torch, and constraints.txt locks what
pyproject.toml pins (a stale lock would silently install other versions than the ones tested)."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
SERVING_EXTRAS = ("api", "serve", "gpu")
TRAINING_ONLY = {"torch", "torchvision", "onnx", "matplotlib", "tqdm", "transformers"}


def requirements(extra: str) -> list[Requirement]:
    """Direct requirements of the package installed with `extra`, its own extras expanded."""
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    for line in PROJECT["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
            for inner in requirement.extras:
                found += requirements(inner)
        else:
            found.append(requirement)
    return found


def locked() -> dict[str, str]:
    """constraints.txt as {canonical name: version}."""
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pins}


def test_serving_extras_never_require_training_packages() -> None:
    for extra in SERVING_EXTRAS:
        names = {canonicalize_name(r.name) for r in requirements(extra)}
        assert not names & TRAINING_ONLY, (extra, names & TRAINING_ONLY)


def test_lock_holds_every_dev_requirement_at_its_pinned_version() -> None:
    lock = locked()
    for requirement in requirements("dev"):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} missing from constraints.txt: run `make lock`"
        assert requirement.specifier.contains(lock[name]), (name, lock[name])


def test_lock_pins_cpu_torch_and_no_cuda_package() -> None:
    lock = locked()
    assert lock["torch"] == "2.13.0"
    assert not [n for n in lock if n.startswith(("nvidia-", "cuda")) or n == "triton"]
