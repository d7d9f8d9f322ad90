"""Logging: one JSON object per line (or plain text), every record tagged with the request id."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

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


class JsonFormatter(logging.Formatter):
    """Time, level, logger, message, request id, any `extra=` fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
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
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if (
            record.levelno >= logging.WARNING
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
