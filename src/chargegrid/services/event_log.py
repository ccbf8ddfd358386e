"""The recorder: what chargers do, from the bus into the event log (``store/event_log``).

It never slows the OCPP path: ``bus.publish`` only queues (a bounded queue of its own;
if the database falls far behind, the oldest events are dropped and counted, never
the publisher blocked), and the recorder writes what has queued up in one INSERT per
batch. Configuration changes made through the API are not recorded here but where
they are made, with who made them (``services/audit.py``); what a charger's own
exchange learnt (``config_sync``, external limits) is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargegrid import events as ev
from chargegrid.bus.memory import Event, EventBus
from chargegrid.store.db import Database
from chargegrid.store.event_log import MAX_DATA_TEXT, add_entries
from chargegrid.store.models import Charger

log = logging.getLogger(__name__)

TOPICS = (
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
QUEUE_SIZE = 50_000
BATCH = 500
RETRY_S = 2.0
SITE_CACHE_S = 60.0  # a charger moved to another site is logged under it within a minute


def wanted(event: Event) -> bool:
    # An operator's change (it has an action) is audited where it is made, with its actor.
    return not (event.topic == ev.CONFIG_CHANGED and "action" in event.payload)


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_DATA_TEXT:
        return value[:MAX_DATA_TEXT]
    if isinstance(value, Mapping):
        return {str(k): _clip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


class EventRecorder:
    def __init__(self, engine: AsyncEngine, bus: EventBus) -> None:
        self.engine = engine
        # Each node records what it saw itself (cluster mode): the log is shared.
        self.subscription = bus.subscribe(TOPICS, maxsize=QUEUE_SIZE, local_only=True)
        self.recorded = 0
        self._sites: dict[uuid.UUID, tuple[float, uuid.UUID | None]] = {}

    @property
    def dropped(self) -> int:
        return self.subscription.dropped

    async def run(self) -> None:
        while True:
            batch = [await self.subscription.get()]
            while len(batch) < BATCH and (more := self.subscription.get_nowait()) is not None:
                batch.append(more)
            events = [e for e in batch if wanted(e)]
            while True:
                try:
                    await self.write(events)
                    break
                except Exception:  # the database is away: keep the batch, try again
                    log.exception("event log: could not write %d events; retrying", len(events))
                    await asyncio.sleep(RETRY_S)

    async def write(self, events: list[Event]) -> None:
        if not events:
            return
        async with self.engine.begin() as conn:
            await self._learn_sites(conn, events)
            rows = [self._row(e) for e in events]
            await add_entries(conn, rows)
        self.recorded += len(rows)

    async def _learn_sites(self, conn: AsyncConnection, events: list[Event]) -> None:
        now = time.monotonic()
        wanted_ids: set[uuid.UUID] = set()
        for e in events:
            cid = _uuid(e.payload.get("charger_id"))
            if cid is None or e.payload.get("site_id") is not None:
                continue
            cached = self._sites.get(cid)
            if cached is None or cached[0] < now:
                wanted_ids.add(cid)
        if not wanted_ids:
            return
        rows = await conn.execute(
            select(Charger.id, Charger.site_id).where(Charger.id.in_(wanted_ids))
        )
        found = {r.id: r.site_id for r in rows}
        for cid in wanted_ids:
            self._sites[cid] = (now + SITE_CACHE_S, found.get(cid))

    def _row(self, event: Event) -> dict[str, Any]:
        payload = event.payload
        charger_id = _uuid(payload.get("charger_id"))
        site_id = _uuid(payload.get("site_id"))
        if site_id is None and charger_id is not None:
            site_id = self._sites.get(charger_id, (0.0, None))[1]
        return {
            "at": event.at,
            "type": event.topic,
            "site_id": site_id,
            "charger_id": charger_id,
            "actor": None,
            "actor_role": None,
            "actor_token_id": None,
            "subject": None,
            "subject_id": None,
            "data": _clip(dict(payload)),
        }

    async def drain(self) -> None:
        """Write whatever is queued now (on shutdown; tests wait on it too)."""
        batch: list[Event] = []
        while (event := self.subscription.get_nowait()) is not None:
            batch.append(event)
        try:
            await self.write([e for e in batch if wanted(e)])
        except Exception:
            log.exception("event log: %d events lost at shutdown", len(batch))

    def close(self) -> None:
        self.subscription.close()


class _Runtime(Protocol):
    """What the component needs of ``app.Runtime`` (services do not import the app)."""

    @property
    def db(self) -> Database: ...
    @property
    def bus(self) -> EventBus: ...
    @property
    def handles(self) -> dict[str, Any]: ...


@asynccontextmanager
async def event_recorder(runtime: _Runtime) -> AsyncIterator[EventRecorder]:
    """The component: subscribed before the OCPP server starts, so no boot is missed;
    on stop, what has queued up is written before it goes."""
    recorder = EventRecorder(runtime.db.engine, runtime.bus)
    runtime.handles["event_recorder"] = recorder
    task = asyncio.create_task(recorder.run())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await recorder.drain()
        recorder.close()
