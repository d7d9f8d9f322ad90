"""Model swaps for the soak: a repository load of a new version of a bundle at fixed times while
the load runs, through the same admin route an operator would use.

The soak serves a copy of the shipped bundles; before each load the copy's manifest gets a new
version string (the manifest is not among the files it hashes), so every load is a real
verify + open + warm + swap of a version the server has not served yet.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def swap_times(minutes: float, every: float) -> list[float]:
    """Seconds after the start: mid-way through each `every`-minute period, so every swap has
    load before and after it (30 min every 5: 2.5, 7.5, ..., 27.5 min, six swaps)."""
    if every <= 0:
        return []
    times, k = [], 0
    while (k + 0.5) * every < minutes:
        times.append((k + 0.5) * every * 60.0)
        k += 1
    return times


def copy_bundles(source: Path, target: Path) -> Path:
    """A fresh copy of the model directory that the swaps can give new versions."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def bump_version(bundle: Path, suffix: str) -> str:
    """Rewrite the bundle's manifest with `<original version>+<suffix>`; returns the version."""
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    version = f"{manifest['version'].split('+')[0]}+{suffix}"
    manifest["version"] = version
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return version


def control_env(model_dir: Path, admin_key: str) -> dict[str, str]:
    return {
        "SENTIMENT_MODEL_DIR": str(model_dir),
        "SENTIMENT_MODEL_CONTROL": "true",
        "SENTIMENT_ADMIN_KEY": admin_key,
    }


def new_admin_key() -> str:
    return secrets.token_urlsafe(24)


def post_load(url: str, name: str, admin_key: str, timeout_s: float = 120.0) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/v2/repository/models/{name}/load",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {"error": error.read().decode(errors="replace")}


@dataclass
class Swapper:
    """A thread that loads a new version of the next model (round robin) at each time."""

    url: str
    model_dir: Path
    models: list[str]
    admin_key: str
    times_s: list[float]
    started: float = field(default_factory=time.monotonic)
    records: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Swapper:
        self._thread = threading.Thread(target=self._run, name="swapper", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(150)

    def _run(self) -> None:
        for number, at in enumerate(self.times_s, start=1):
            if self._stop.wait(max(0.0, self.started + at - time.monotonic())):
                return
            self.records.append(self.swap(number))

    def swap(self, number: int) -> dict[str, Any]:
        name = self.models[(number - 1) % len(self.models)]
        version = bump_version(self.model_dir / name, f"soak{number}")
        begun = time.monotonic()
        status, body = post_load(self.url, name, self.admin_key)
        record = {
            "t_s": round(begun - self.started, 1),
            "model": name,
            "version": version,
            "status": status,
            "served_version": body.get("version"),
            "load_s": round(time.monotonic() - begun, 2),
        }
        print(f"swap {number}: {record}", flush=True)
        return record
