"""Deadline inputs as an app component (``app.components_for``): fills each new
session's deadline in from its id tag's defaults or a prediction, and keeps the
history cache fresh as sessions complete (services/deadlines.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from chargegrid import events as ev
from chargegrid.services.deadlines import HANDLE, TOPICS, DeadlineInputs
from chargegrid.store.db import Database

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
# How often predicted departures that have passed are predicted again.
REFRESH_S = 60.0


class RuntimeLike(Protocol):
    db: Database
    bus: Any
    handles: dict[str, Any]


def inputs_of(runtime: RuntimeLike) -> DeadlineInputs:
    """The runtime's one ``DeadlineInputs`` (and so its one history cache): the
    component's, or made here for an app served without it (tests, API only)."""
    found = runtime.handles.get(HANDLE)
    if not isinstance(found, DeadlineInputs):
        found = runtime.handles[HANDLE] = DeadlineInputs(runtime.db)
    return found


async def _follow(inputs: DeadlineInputs, bus: Any, subscription: Any) -> None:
    async for event in subscription:
        try:
            filled = await inputs.handle(event.topic, event.payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad session must not stop the others' deadlines
            log.exception("deadline inputs: could not handle %s", event.topic)
            continue
        if filled is not None:
            bus.publish(ev.SESSION_UPDATED, filled)


async def _refresh_forever(inputs: DeadlineInputs, bus: Any) -> None:
    while True:
        await asyncio.sleep(REFRESH_S)  # the period itself
        try:
            for filled in await inputs.refresh_overdue():
                bus.publish(ev.SESSION_UPDATED, filled)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next period tries again
            log.exception("deadline inputs: could not refresh passed predictions")


@asynccontextmanager
async def deadline_inputs(runtime: RuntimeLike) -> AsyncIterator[DeadlineInputs]:
    inputs = inputs_of(runtime)
    # Each node fills in the sessions its own chargers started (cluster mode).
    subscription = runtime.bus.subscribe(TOPICS, maxsize=QUEUE_SIZE, local_only=True)
    tasks = [
        asyncio.create_task(_follow(inputs, runtime.bus, subscription), name="deadlines"),
        asyncio.create_task(_refresh_forever(inputs, runtime.bus), name="deadlines-refresh"),
    ]
    try:
        yield inputs
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        subscription.close()
