"""Logging: one line per event; JSON when asked or when stderr is not a terminal.

Events carry their fields as ``extra={...}``; the text format appends them as
``key=value`` so a terminal reader sees the same facts a log pipeline does.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from driftwatch.redact import scrub

LogFormat = Literal["auto", "text", "json"]

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        if extras:
            line += " " + " ".join(f"{k}={_text(v)}" for k, v in extras.items())
        return scrub(line)


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON lines with every known secret value masked (redact.scrub)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _text(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


def setup_logging(fmt: LogFormat = "auto", level: str = "INFO") -> None:
    """Configure the root logger once, for the CLI and the daemon."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        ScrubbingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
        if use_json
        else TextFormatter()
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that log every request or scheduler tick would drown the events that matter.
    for noisy in ("httpx", "httpcore", "apscheduler", "chromadb", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
