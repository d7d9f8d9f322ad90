"""The sampled payload log (opt-in): a sample of scored requests written to a rotating JSONL
file, to collect real traffic for relabelling and the next training run.

The request path only draws the sample and appends one tuple to a bounded queue without waiting;
a full queue drops the record and counts it. A writer thread wakes every
`FLUSH_S`, takes everything queued, and formats, hashes and writes it there, so a slow disk
never holds up an answer. One line per text:

    {"time": "2026-12-05T18:30:00.123Z", "request_id": "...", "model": "sentiment-en",
     "model_version": "2.0.1", "index": 0, "text": "...", "served_label": "positive",
     "served_probabilities": {"negative": 0.01, ...}, "served_path": "full"}

With several server processes (`SENTIMENT_PROCESSES`) each writes its own file, the process index
before the suffix (`payload.jsonl` -> `payload.p0.jsonl`, `payload.p1.jsonl`): two writers
rotating one file would lose lines.

`text` becomes `text_sha256` (hex of the UTF-8 text) or is left out, as configured. The served
answer is named `served_*`, so that `python -m app.bulk payload.jsonl out.jsonl` rescores the
file with another model and writes the new answer beside the one that was served.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from prometheus_client import Counter

from app.ops.logs import request_id_var

if TYPE_CHECKING:
    from app.core.settings import Settings
    from app.core.worker import Scored
    from app.ops.metrics import Metrics
    from app.ops.peers import Peers

log = logging.getLogger(__name__)
TextMode = Literal["text", "hash", "none"]
FLUSH_S = 0.2  # the writer's wake-up: lines reach the file at most this late
STOP_S = 5.0  # at shutdown, how long the writer may take to write what is queued

# one queued request: epoch seconds, request id, model, version, labels, texts, answers
Entry = tuple[float, str, str, str, Sequence[str], Sequence[str], Sequence["Scored"]]


class RotatingJsonl:
    """Appends lines to `path`; past `max_bytes` the file becomes `path.1` (`path.1` becomes
    `path.2`, ...), keeping `backups` old files, like logging's RotatingFileHandler."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._file = path.open("ab")
        self._size = self._file.tell()

    def write(self, lines: list[bytes]) -> None:
        for line in lines:
            if self._size and self._size + len(line) > self.max_bytes:
                self.rotate()
            self._file.write(line)
            self._size += len(line)
        self._file.flush()

    def rotate(self) -> None:
        self._file.close()
        if self.backups:
            for number in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{number}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{number + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = self.path.open("ab")
        self._size = 0

    def close(self) -> None:
        self._file.close()


class LineFormat:
    """Formats the lines of queued requests (in the writer thread): the text as configured, the
    time as ISO 8601 UTC with milliseconds. Built from byte pieces, each escaped by orjson, with
    what repeats cached (the second's time stamp, each model's name and version, each label set):
    ~2x cheaper than one dict per line through orjson, which cost ~7 us a line."""

    def __init__(self, text_mode: TextMode) -> None:
        self.text_mode = text_mode
        self._second = -1
        self._stamp = b""
        self._models: dict[tuple[str, str], bytes] = {}
        self._labels: dict[tuple[str, ...], tuple[list[bytes], bytes]] = {}

    def time(self, at: float) -> bytes:
        second = int(at)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        return b"%s.%03dZ" % (self._stamp, int((at - second) * 1000))

    def _model(self, model: str, version: str) -> bytes:
        key = (model, version)
        part = self._models.get(key)
        if part is None:
            part = b'"model":%s,"model_version":%s' % (orjson.dumps(model), orjson.dumps(version))
            self._models[key] = part
        return part

    def _label_parts(self, labels: Sequence[str]) -> tuple[list[bytes], bytes]:
        """The labels as JSON strings, and a `{"negative":%s,...}` template for probabilities."""
        key = tuple(labels)
        parts = self._labels.get(key)
        if parts is None:
            names = [orjson.dumps(label) for label in labels]
            template = b"{" + b",".join(name + b":%s" for name in names) + b"}"
            parts = self._labels[key] = (names, template)
        return parts

    def _text(self, text: str) -> bytes:
        if self.text_mode == "text":
            return b'"text":%s,' % orjson.dumps(text)
        if self.text_mode == "hash":
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            return b'"text_sha256":"%s",' % digest.encode()
        return b""

    def lines(self, entry: Entry) -> list[bytes]:
        at, request_id, model, version, labels, texts, scored = entry
        head = b'{"time":"%s","request_id":%s,%s,' % (
            self.time(at),
            orjson.dumps(request_id),
            self._model(model, version),
        )
        names, template = self._label_parts(labels)
        out = []
        for index, (text, answer) in enumerate(zip(texts, scored, strict=True)):
            p = answer.probabilities
            # orjson writes each probability (a NaN, which JSON lacks, as null)
            probabilities = template % tuple(orjson.dumps(p)[1:-1].split(b","))
            out.append(
                b'%s"index":%d,%s"served_label":%s,"served_probabilities":%s,'
                b'"served_path":%s}\n'
                % (
                    head,
                    index,
                    self._text(text),
                    names[p.index(max(p))],
                    probabilities,
                    orjson.dumps(answer.path),
                )
            )
        return out


class PayloadLog:
    """The sampler (request side) and the writer thread (file side) of the payload log."""

    def __init__(self, settings: Settings, metrics: Metrics, peers: Peers | None = None) -> None:
        assert settings.payload_log is not None
        self.path = process_path(settings.payload_log, peers)
        self.sample = settings.payload_log_sample
        self.text_mode: TextMode = settings.payload_log_text
        self._format = LineFormat(self.text_mode)
        self._max_bytes = settings.payload_log_max_bytes
        self._backups = settings.payload_log_backups
        # a deque, bounded by the length check in offer(): append and popleft are atomic, so
        # the request pays ~0.1 us; queue.Queue's put_nowait took ~2.5 us (a lock and a
        # condition per call), which buys nothing here, since the writer wakes on a timer
        self._queue: deque[Entry] = deque()
        self._capacity = settings.payload_log_queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: RotatingJsonl | None = None
        registry = metrics.registry
        self.written = Counter(
            "sentiment_payload_log_written",
            "Sampled requests written to the payload log",
            registry=registry,
        )
        self.dropped = Counter(
            "sentiment_payload_log_dropped",
            "Sampled requests not written: the writer's queue was full, or the write failed",
            registry=registry,
        )

    def offer(
        self, model: str, version: str, labels: Sequence[str], texts: Sequence[str], scored: Any
    ) -> None:
        """Request side: draw the sample and queue the request without waiting."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return
        if len(self._queue) >= self._capacity:
            self.dropped.inc()
            return
        self._queue.append(
            (time.time(), request_id_var.get(), model, version, labels, texts, scored)
        )

    def start(self) -> None:
        """Open the file (an unwritable path fails start-up here) and start the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = RotatingJsonl(self.path, self._max_bytes, self._backups)
        self._thread = threading.Thread(target=self._run, name="payload-log", daemon=True)
        self._thread.start()
        log.info(
            "payload log on",
            extra={"path": str(self.path), "sample": self.sample, "text": self.text_mode},
        )

    def stop(self) -> None:
        """Write what is queued, then close the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_S)
        if self._file is not None:
            self._file.close()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self.drain()
        self.drain()

    def drain(self) -> None:
        queued = self._queue
        entries = [queued.popleft() for _ in range(len(queued))]  # offer() may append meanwhile
        if not entries or self._file is None:
            return
        lines: list[bytes] = []
        formatted = 0
        for entry in entries:
            try:
                lines += self._format.lines(entry)
                formatted += 1
            except (TypeError, ValueError):  # e.g. a lone surrogate (the routes refuse them)
                log.exception("payload log: a request could not be written as JSON")
                self.dropped.inc()
        try:
            self._file.write(lines)
        except OSError:
            log.exception("payload log: could not write %d requests", formatted)
            self.dropped.inc(formatted)
            return
        self.written.inc(formatted)


def process_path(path: Path, peers: Peers | None) -> Path:
    """The file this server process writes: `path` itself, or with `.p<index>` before its
    suffix when it is one of several processes."""
    if peers is None:
        return path
    return path.with_name(f"{path.stem}.p{peers.index}{path.suffix}")


def payload_log(
    settings: Settings, metrics: Metrics, peers: Peers | None = None
) -> PayloadLog | None:
    """The payload log the settings ask for, or None when it is off (the default)."""
    if settings.payload_log is None or settings.payload_log_sample <= 0:
        return None
    return PayloadLog(settings, metrics, peers)
