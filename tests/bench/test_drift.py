"""`python -m bench drift` and the drift test's rules: the windows are cut, nothing else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.drift import RULES, shortened_rules


def test_shortened_rules_cut_only_the_drift_windows_and_holds() -> None:
    shipped = yaml.safe_load(RULES.read_text())["groups"]
    short = yaml.safe_load(shortened_rules("20s", "5s"))["groups"]
    assert [g["name"] for g in shipped] == [g["name"] for g in short]
    for before, after in zip(shipped, short, strict=True):
        if not before["name"].startswith("sentiment-drift"):
            assert after == before
            continue
        for rule, cut in zip(before["rules"], after["rules"], strict=True):
            assert cut["expr"] == rule["expr"].replace("[10m]", "[20s]")
            assert cut.get("for") == ("5s" if "for" in rule else None)
            assert "[10m]" not in cut["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_shortened_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(shortened_rules("20s", "5s"))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
