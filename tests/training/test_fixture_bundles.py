"""The committed tiny bundles (tests/fixtures/bundles), which the app, bulk and deploy tests
serve, are still what today's training code builds: same files, same manifest fields, same
architecture. When this fails, `python -m tests.factories` writes them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.bundle import load_bundle


@pytest.mark.parametrize("name", ["tiny-en", "tiny-ko"])
def test_fixture_bundles_match_a_fresh_build(bundles_root: Path, trained_root: Path, name: str):
    fixture, fresh = load_bundle(bundles_root / name), load_bundle(trained_root / name)
    assert sorted(p.name for p in fixture.directory.iterdir()) == sorted(
        p.name for p in fresh.directory.iterdir()
    )
    committed, today = fixture.manifest.to_json(), fresh.manifest.to_json()
    assert committed.keys() == today.keys()
    assert committed["architecture"].keys() == today["architecture"].keys()
    assert committed["training_config"].keys() == today["training_config"].keys()
    assert (committed["labels"], committed["cascade"] != {}) == (
        today["labels"],
        today["cascade"] != {},
    )
