"""Schemathesis against the service's own OpenAPI document: every phase (examples, coverage,
fuzzing, stateful) and every check of the pinned version, through its own CLI, as a user runs it.

The run's settings (seed, cases per operation, the one declared exception) live in
`schemathesis.toml` beside this file. The server is this module's own: the stateful phase loads
and unloads models, so it must not share one with other tests; model control is on there, and
every request carries the admin key (no API key is set, so no other route looks at it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import ADMIN_KEY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = ("Examples", "Coverage", "Fuzzing", "Stateful")


def test_every_phase_finds_nothing(live_url: str) -> None:
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color"]
    run = subprocess.run(
        [*command, "run", "-H", f"Authorization: Bearer {ADMIN_KEY}", f"{live_url}/openapi.json"],
        capture_output=True,
        text=True,
        timeout=840,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "No issues found" in report, report
    for phase in PHASES:  # each phase really ran, none was skipped
        assert f"✅ {phase}" in report, report
