"""Request bodies for the load tests: real test-set texts as JSON, written with the Lua script
that rotates them, so every system under load reads the same texts in the same order.

    python -m bench bodies --set imdb --count 500
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import orjson

from bench.common import DEFAULT_DATA, SCRATCH, TEST_SETS, read_test_set
from bench.wrk import lua_script


def request_bodies(texts: list[str], model: str | None = None) -> list[str]:
    """One `{"text": ...}` body per text (plus `"model"` when one is named), as JSON text."""
    extra = {"model": model} if model else {}
    return [orjson.dumps({"text": text, **extra}).decode() for text in texts]


def write_bodies(data_dir: Path, name: str, count: int, with_model: bool) -> dict[str, Path]:
    """Writes <set>.json (the bodies) and <set>.lua (the wrk script) under bench/results/tmp."""
    texts, _ = read_test_set(data_dir, name, count)
    bodies = request_bodies(texts, TEST_SETS[name].model if with_model else None)
    folder = SCRATCH / "bodies"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / f"{name}.json", "lua": folder / f"{name}.lua"}
    paths["json"].write_text(json.dumps(bodies))
    paths["lua"].write_text(lua_script(bodies))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", choices=sorted(TEST_SETS), default="imdb")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--with-model", action="store_true", help='add "model" to each body')
    args = parser.parse_args()
    paths = write_bodies(args.data_dir, args.set, args.count, args.with_model)
    print(f"wrote {paths['json']} and {paths['lua']}")


if __name__ == "__main__":
    main()
