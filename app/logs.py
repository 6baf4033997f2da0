"""Structured JSON logs on stderr (and optionally a ``*.log`` file); never an IP address.

A record is formatted in the thread that logs it and appended to a buffer; a thread of
its own writes the buffer out every 50 ms, in one write per output. A write that waits
(a disk busy with an index snapshot's writeback, a full pipe) never holds up the event
loop, and with it every check of the process; and a busy server makes ~20 writes a
second instead of one per request (a thread woken for every line takes the GIL from the
event loop as often: 900-1,300 checks a second against 1,500-1,700, in one run). What is
buffered is written before the process exits; a warning or an error is written at once,
in the thread that logs it, with what was buffered before it.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from app.files import create_private

__all__ = ["configure_logging"]

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class BufferedWriter(logging.Handler):
    """Formats a record in the caller's thread; a thread of its own writes the lines to
    ``outputs`` every ``interval`` seconds (see the module's docstring)."""

    def __init__(self, outputs: list[IO[str]], interval: float = 0.05) -> None:
        super().__init__()
        self.outputs = outputs
        self.interval = interval
        self._lines: collections.deque[str] = collections.deque()  # appends are atomic
        self._writing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:  # a record that cannot be formatted: logging's own report
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self.flush()  # rare, and wanted at once (an operator, a crash right after)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write every buffered line now."""
        with self._writing:
            lines = []
            with contextlib.suppress(IndexError):
                while True:
                    lines.append(self._lines.popleft())
            if not lines:
                return
            data = "".join(lines)
            for output in self.outputs:
                with contextlib.suppress(OSError, ValueError):  # a closed or broken output
                    output.write(data)
                    output.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
        super().close()


_writer: BufferedWriter | None = None
_files: list[IO[str]] = []


def _close_writer() -> None:
    """Write what is buffered and end the writing thread (at exit, or before a new one)."""
    global _writer
    if _writer is not None:
        _writer.close()
        _writer = None
    while _files:
        _files.pop().close()


def configure_logging(level: str = "INFO", log_file: str | None = None) -> None:
    """Send every log record as one JSON line to stderr (and ``log_file``), written by a
    thread of its own (see the module's docstring)."""
    global _writer
    _close_writer()  # configured again (a worker process, the serve command): one writer
    outputs: list[IO[str]] = [sys.stderr]
    if log_file:
        if not log_file.endswith(".log"):
            raise ValueError("HASHBANK_LOG_FILE must end in .log")
        create_private(log_file)  # 0600: the owner's only, as the database
        _files.append(open(log_file, "a", encoding="utf-8"))  # noqa: SIM115 (closed at exit)
        outputs.append(_files[-1])
    _writer = BufferedWriter(outputs)
    _writer.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [_writer]
    root.setLevel(level.upper())
    # uvicorn's access log prints client addresses: it is off (see app.cli.serve) and
    # our own access log (app.web.middleware) records no address at all.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


atexit.register(_close_writer)
