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


def test_direct_access_lines_equal_the_logging_path_and_yield_to_other_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from app.ops import logs

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    monkeypatch.setattr(logs.sys, "stderr", stream)
    factory = logging.getLogRecordFactory()  # Ray, once imported, installs its own
    logging.setLogRecordFactory(logging.LogRecord)
    logs.configure_logging("INFO", json_logs=True)
    ours = logs._installed[0]
    root.handlers[:] = [ours]  # as in the service: pytest's own capture handlers set aside
    logger = logging.getLogger("app.access")
    made: list[str] = []
    make_record = logger.makeRecord

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        made.append("record")
        return make_record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logger, "makeRecord", counting)
    fields = {"method": "POST", "status": 200, "duration_ms": 1.5, "texts": 2}
    token = request_id_var.set("req-9")
    try:
        logs.log_fields(logger, logging.INFO, "request", fields)  # direct
        logger.log(logging.INFO, "request", extra=fields)  # through a LogRecord
        logs.log_fields(logger, logging.DEBUG, "request", fields)  # below the level: nothing
        assert made == ["record"]  # only the explicit logger.log made a LogRecord
        capture = logging.Handler()
        records: list[logging.LogRecord] = []
        capture.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(capture)
        logs.log_fields(logger, logging.INFO, "request", fields)  # another handler: a record
        logger.removeHandler(capture)
        logging.setLogRecordFactory(lambda *a, **k: logging.LogRecord(*a, **k))
        logs.log_fields(logger, logging.INFO, "request", fields)  # a record factory: a record
        assert made == ["record"] * 3
        ours.flush()
    finally:
        logging.setLogRecordFactory(factory)
        request_id_var.reset(token)
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    direct, logged, propagated, with_factory = lines
    assert list(direct) == list(logged) and list(direct)[:4] == ["ts", "level", "logger", "msg"]
    assert {k: v for k, v in direct.items() if k != "ts"} == {
        k: v for k, v in logged.items() if k != "ts"
    }
    assert direct["request_id"] == "req-9" and direct["level"] == "INFO"
    assert (
        len(records) == 1
        and records[0].status == 200
        and propagated == logged | {"ts": propagated["ts"]}
    )
    assert with_factory == logged | {"ts": with_factory["ts"]}
