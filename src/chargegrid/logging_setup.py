"""One log format for every ``chargegrid`` command: text for a terminal, JSON lines for a
log shipper (``--log-format``/``CHARGEGRID_LOG_FORMAT``), at ``--log-level``.

Every line about a charger names it in the ``charger`` field. The OCPP server sets
:data:`current_charger` while it handles a charger's handshake and connection, and
asyncio copies the context into every task started from there, so a line logged by a
handler, a store or a boot step names the charger without each call passing it. A call
may also name one itself with ``extra={"charger": ocpp_id}``.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, TextIO

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")

current_charger: ContextVar[str | None] = ContextVar("chargegrid_charger", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra`` and is
# written as a field of its own.
_RECORD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "charger", "taskName"}


class ChargerFilter(logging.Filter):
    """Fills ``record.charger`` from :data:`current_charger` unless the call named one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "charger", None) is None:
            record.charger = current_charger.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


# A bus event's payload (bus_log.py) is spelled out in its text line's message already;
# JSON lines carry it whole as a field.
# uvicorn's color_message is its message again, with terminal colours.
_TEXT_HIDDEN: Final = frozenset({"event", "topic", "color_message"})


def _timestamp(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, charger (when known), msg, the
    record's ``extra`` fields, and ``exc`` with the traceback (newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        charger = getattr(record, "charger", None)
        if charger is not None:
            line["charger"] = charger
        line["msg"] = record.getMessage()
        line.update(_extras(record))
        line.pop("color_message", None)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is not JSON (a UUID, a datetime) is still one line.
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger [charger] message key=value ...`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        charger = getattr(record, "charger", None)
        parts = [_timestamp(record), record.levelname, record.name]
        if charger is not None:
            parts.append(f"[{charger}]")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in _extras(record).items() if k not in _TEXT_HIDDEN)
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each line (a test's capture, a redirect
    made after start-up), never to a stream closed since ``configure``."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def parse_log_format(text: str, name: str = "log format") -> str:
    value = text.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"{name}={text!r}: expected one of {', '.join(LOG_FORMATS)}")
    return value


def parse_log_level(text: str, name: str = "log level") -> str:
    value = text.strip().lower()
    if value not in LOG_LEVELS:
        raise ValueError(f"{name}={text!r}: expected one of {', '.join(LOG_LEVELS)}")
    return value


def configure(log_format: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Route every logger (ours, uvicorn's, websockets') through one handler on stderr.

    Called once per command, before anything logs. uvicorn is started without its own
    logging config (``log_config=None``) so its lines come here too; its access log is
    off because ``api/access_log.py`` writes one with the token's role and the route.
    """
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ChargerFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # websockets logs every failed handshake and closed socket with a traceback of its
    # own; our server logs each refusal and disconnect with its reason already.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    # Libraries whose debug lines are every statement or byte: --log-level debug is
    # for chargegrid's own decisions.
    for name in ("aiosqlite", "httpcore", "asyncio", "httpx"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
