"""One log line per bus event an operator wants to read back: chargers connecting,
booting, dropping and changing status, sessions starting, refused and stopping (with who
ended them), configuration changes (an override's fields; who sent it is on the same
request's access-log line), configuration pushed to a charger, security events.

Read from the bus rather than logged at each publisher: one place decides the wording,
and the publishers (OCPP handlers, API use cases, the control loop) stay as they are.
Meter readings, session readings and live-load views are left out: several a second
per charger, they are metrics (``/metrics``) and history, not log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from chargegrid import events as ev
from chargegrid.bus.memory import EventBus

log = logging.getLogger("chargegrid.events")

LOGGED = (
    ev.CHARGER_CONNECTED,
    ev.CHARGER_READY,
    ev.CHARGER_DISCONNECTED,
    ev.CHARGER_STATUS_CHANGED,
    ev.CHARGER_LIMIT_VIOLATION,
    ev.CHARGER_NOTICE,
    ev.CHARGER_SECURITY_EVENT,
    ev.SESSION_STARTED,
    ev.SESSION_REFUSED,
    ev.SESSION_STOPPED,
    ev.CONFIG_CHANGED,
)
# Identifiers already in the line's own fields, and bulky payloads not worth a line.
_LEFT_OUT = frozenset({"ocpp_id", "payload"})


class _HasBus(Protocol):
    bus: EventBus


def describe(topic: str, payload: Mapping[str, Any]) -> str:
    """``topic key=value ...``: the event in one line, its fields in a stable order."""
    fields = " ".join(
        f"{key}={_short(value)}"
        for key, value in payload.items()
        if key not in _LEFT_OUT and value is not None
    )
    return f"{topic} {fields}".rstrip()


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def log_event(topic: str, payload: Mapping[str, Any]) -> None:
    level = logging.WARNING if topic == ev.CHARGER_LIMIT_VIOLATION else logging.INFO
    charger = payload.get("ocpp_id")
    log.log(
        level,
        "%s",
        describe(topic, payload),
        extra={"charger": charger, "topic": topic, "event": dict(payload)},
    )


async def _follow(bus: EventBus) -> None:
    # Each node logs what happened on it (cluster mode): one line per event, not per node.
    with bus.subscribe(LOGGED, maxsize=10_000, local_only=True) as subscription:
        async for event in subscription:
            log_event(event.topic, event.payload)


@asynccontextmanager
async def bus_log(runtime: _HasBus) -> AsyncIterator[None]:
    """The component (``app.components_for``): logs each event until stopped."""
    task = asyncio.create_task(_follow(runtime.bus), name="bus-log")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
