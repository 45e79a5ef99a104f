"""Structured logs: JSON lines when not on a TTY, readable on a TTY, secrets redacted.

A log line that cannot be written (the reader of a pipe exited: `| tee` after Ctrl-C, a
restarted journald) must never change what the daemon does: every write goes through
`SafeStream`, which drops the line and counts it (`write_errors`, exported as
`sla_probe_log_write_errors_total`) instead of raising into whatever was logging.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, TextIO, cast

import structlog

from probe.secrets import redact

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def _redact_values(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


class WriteErrors:
    """How many log writes failed since the process started."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


write_errors = WriteErrors()


class SafeStream:
    """A text stream whose writes never raise; failures are counted in `write_errors`.

    For the process's stderr it writes to file descriptor 2 itself, bypassing `sys.stderr`'s
    buffer: a failed write leaves nothing behind that the interpreter would try to flush
    (and fail on, exit status 120) at exit.
    """

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream
        self._fd = 2 if stream is None else None
        self._pending: list[str] = []

    def write(self, text: str) -> int:
        if self._fd is not None:
            self._pending.append(text)  # one write(2) per line, at the flush
            if "\n" in text:
                self.flush()
            return len(text)
        try:
            self._stream.write(text)
        except (OSError, ValueError):  # EPIPE, EIO, a closed file
            write_errors.add()
        return len(text)

    def flush(self) -> None:
        try:
            if self._fd is None:
                self._stream.flush()
                return
            data = "".join(self._pending).encode("utf-8", "replace")
            self._pending.clear()
            while data:
                data = data[os.write(self._fd, data):]
        except (OSError, ValueError):
            write_errors.add()

    def isatty(self) -> bool:
        try:
            return os.isatty(self._fd) if self._fd is not None else bool(self._stream.isatty())
        except (OSError, ValueError):
            return False


def configure(level: str = "info", *, json: bool | None = None, stream: Any = None) -> None:
    stream = stream if stream is not None else sys.stderr
    safe = SafeStream(None if stream is sys.__stderr__ else stream)
    if json is None:
        json = not safe.isatty()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_values,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", safe)),
        cache_logger_on_first_use=False,
    )
