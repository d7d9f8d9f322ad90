"""Logging: one JSON object per line (or plain text), every record tagged with the request id."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

# set by the request middleware; log records made while serving a request carry it
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
_HANDLER_NAME = "sentiment"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def _line_head(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
    """The keys every JSON line starts with, in order."""
    ts = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return {"ts": ts, "level": level, "logger": logger, "msg": message}


class JsonFormatter(logging.Formatter):
    """Time, level, logger, message, request id, any `extra=` fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        data = _line_head(record.created, record.levelname, record.name, record.getMessage())
        for key, value in vars(record).items():
            if key not in _STANDARD:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


class BatchedStreamHandler(logging.StreamHandler):
    """A stream handler that writes lines in batches: at once for warnings and above, else when
    `max_lines` are waiting or `max_delay_s` has passed since the last write (checked at each
    line, and by `flush_due()`, which the server calls every tick). Under load one write per
    access-log line cost ~14% of the CPU of a short-text request (docs/benchmarks.md)."""

    def __init__(self, stream: TextIO, max_lines: int = 256, max_delay_s: float = 0.2) -> None:
        super().__init__(stream)
        self.max_lines, self.max_delay_s = max_lines, max_delay_s
        self._lines: list[str] = []
        self._written = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add_line(line, record.levelno)

    def add_line(self, line: str, level: int) -> None:
        with self.lock:  # batch threads log too; a line must not slip in during a flush
            self._lines.append(line)
            if (
                level >= logging.WARNING
                or len(self._lines) >= self.max_lines
                or time.monotonic() - self._written >= self.max_delay_s
            ):
                self.flush()

    def flush(self) -> None:
        with self.lock:
            if self._lines:
                self.stream.write("\n".join(self._lines) + "\n")
                self._lines.clear()
            self.stream.flush()
            self._written = time.monotonic()

    def flush_due(self) -> None:
        if self._lines and time.monotonic() - self._written >= self.max_delay_s:
            self.flush()


_installed: list[BatchedStreamHandler] = []  # the handler configure_logging put on the root


def _direct_handler(logger: logging.Logger, level: int) -> BatchedStreamHandler | None:
    """The service's own JSON handler when it is the only thing that would see a record of
    `logger` at `level` (no other handler or filter on the way, as `configure_logging` leaves
    it); None when anything else is installed (a test's capture, an operator's handler, or a
    record factory that adds fields, as Ray's does)."""
    if not _installed or not logger.isEnabledFor(level):
        return None
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    handler = _installed[0]
    root = logging.getLogger()
    if root.handlers != [handler] or root.filters or level < handler.level:
        return None
    if not isinstance(handler.formatter, JsonFormatter) or len(handler.filters) != 1:
        return None
    current: logging.Logger | None = logger
    while current is not None and current is not root:
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    return handler


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra=fields)`, the same JSON line, without the LogRecord:
    under load the record (caller lookup, thread and process names) and its formatting cost
    ~3x the line itself. Falls back to `logger.log` whenever another handler would see it."""
    handler = _direct_handler(logger, level)
    if handler is None:
        logger.log(level, message, extra=fields)
        return
    data = _line_head(time.time(), logging.getLevelName(level), logger.name, message) | fields
    data.setdefault("request_id", request_id_var.get())
    handler.add_line(orjson.dumps(data, default=str).decode(), level)


def flush_due_logs() -> None:
    """Write out access lines that have waited `max_delay_s` (called by the server's tick)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BatchedStreamHandler):
            handler.flush_due()


def configure_logging(level: str, json_logs: bool) -> None:
    """Install one stderr handler on the root logger (idempotent; tests build many apps)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
        handler.flush()
    handler = BatchedStreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    _installed[:] = [handler]
    handler.addFilter(RequestIdFilter())
    plain = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(plain))
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers go through the same handler, so every line has one format
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
