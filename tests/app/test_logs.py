"""JSON log lines carry the request id."""

from __future__ import annotations

import logging

import orjson

from app.logs import JsonFormatter, RequestIdFilter, request_id_var


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
