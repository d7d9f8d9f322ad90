"""The service never imports torch or the training package."""

from __future__ import annotations

import subprocess
import sys

from tests.factories import REPO


def test_app_does_not_load_torch_or_training() -> None:
    code = (
        "import sys, app.main, app.__main__; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
