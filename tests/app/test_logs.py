"""JSON log lines carry the request id."""

from __future__ import annotations

import logging

import orjson
import pytest

from app.ops.logs import JsonFormatter, RequestIdFilter, request_id_var

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def format_record(message: str, **extra: object) -> dict:
    record = logging.makeLogRecord({"msg": message, "levelname": "INFO", "name": "t", **extra})
    RequestIdFilter().filter(record)
    return orjson.loads(JsonFormatter().format(record))


def test_one_json_object_with_request_id() -> None:
    token = request_id_var.set("req-7")
    try:
        line = format_record("hello", status=200)
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello" and line["request_id"] == "req-7" and line["status"] == 200
    assert {"ts", "level", "logger"} <= set(line)


def test_outside_requests_the_id_is_a_dash() -> None:
    assert format_record("startup")["request_id"] == "-"


def test_traceback_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        line = format_record("failed", exc_info=sys.exc_info())
    assert "ValueError: boom" in line["exc"]


def test_batched_lines_are_written_together_and_warnings_at_once() -> None:
    import io

    from app.ops.logs import BatchedStreamHandler

    stream = io.StringIO()
    handler = BatchedStreamHandler(stream, max_lines=3, max_delay_s=60)
    handler.setFormatter(logging.Formatter("%(message)s"))

    def emit(message: str, level: int = logging.INFO) -> None:
        handler.handle(logging.makeLogRecord({"msg": message, "levelno": level}))

    emit("a")
    emit("b")
    assert stream.getvalue() == ""
    emit("c")
    assert stream.getvalue() == "a\nb\nc\n"
    emit("d")
    emit("trouble", logging.WARNING)
    assert stream.getvalue().endswith("d\ntrouble\n")


def test_waiting_lines_are_flushed_when_due() -> None:
    import io

    from app.ops.logs import BatchedStreamHandler

    stream = io.StringIO()
    handler = BatchedStreamHandler(stream, max_lines=100, max_delay_s=0.0)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._written = float("inf")  # nothing is due yet
    handler.handle(logging.makeLogRecord({"msg": "late", "levelno": logging.INFO}))
    assert stream.getvalue() == ""
    handler._written = 0.0
    handler.flush_due()
    assert stream.getvalue() == "late\n"
