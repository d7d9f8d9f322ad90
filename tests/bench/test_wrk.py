"""The Lua body rotator and the parser of wrk's summary line (no timing is asserted)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bench.wrk import MARKER, lua_script, lua_string, parse_output, run_wrk

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

SAMPLE = (
    "Running 1s test @ http://127.0.0.1:1/predict\n"
    f'{MARKER}{{"requests":300,"duration_us":1500000,"bytes":9000,'
    '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},'
    '"latency_us":{"mean":1500.0,"stdev":20.5,"max":9000,'
    '"percentiles":{"50":1200,"99":8000,"99.9":8900}}}\n'
)


def test_lua_string_escapes_quotes_backslashes_and_bytes() -> None:
    assert lua_string('a"b\\c\n') == '"a\\034b\\092c\\010"'
    assert lua_string("좋") == '"\\236\\162\\139"'  # the UTF-8 bytes, each as \ddd


def test_script_holds_every_body_and_the_path() -> None:
    script = lua_script(['{"text": "one"}', '{"text": "two"}'], path="/predict")
    assert script.count("{\\034text\\034: \\034") == 2
    assert '"POST", "/predict"' in script


def test_script_needs_a_body() -> None:
    with pytest.raises(ValueError, match="at least one"):
        lua_script([])


def test_parse_summary_line() -> None:
    result = parse_output(SAMPLE)
    assert result.requests == 300
    assert result.rps == pytest.approx(200.0)
    assert result.errors["status"] == 2
    assert result.latency_ms["p50"] == pytest.approx(1.2)
    assert result.latency_ms["p99.9"] == pytest.approx(8.9)
    assert result.latency_ms["mean"] == pytest.approx(1.5)


def test_missing_summary_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="WRK_JSON"):
        parse_output("wrk: connection refused\n")


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        Recorder.seen.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow  # a real wrk against a real HTTP server
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_runs_the_script_and_rotates_real_bodies(recorder: str, tmp_path: Path) -> None:
    bodies = [json.dumps({"text": t}, ensure_ascii=False) for t in ("정말 좋아요", 'say "hi"')]
    script = tmp_path / "bodies.lua"
    script.write_text(lua_script(bodies))
    result = run_wrk(recorder, script, connections=1, seconds=1)
    assert result.requests > 0 and sum(result.errors.values()) == 0
    assert {b.decode("utf-8") for b in Recorder.seen[:4]} == set(bodies)
