"""Available-current overrides with a TTL lapse on their own: clear them when due and
publish ``config.changed`` so the load manager hands the current back at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import ColumnElement, select

from chargegrid.bus.memory import EventBus
from chargegrid.events import CONFIG_CHANGED
from chargegrid.services.audit import ChangeTracker, actor_of, audit_rows
from chargegrid.store.db import Database
from chargegrid.store.event_log import add_entries
from chargegrid.store.models import AvailableCurrentOverride, Circuit, Site
from chargegrid.store.types import utcnow

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
LAPSED_FIELDS = ["available_current"]


async def expire_overrides(db: Database, bus: EventBus) -> int:
    """Clear every override whose time is up; returns how many nodes lapsed."""
    now = utcnow()
    lapsed: list[dict[str, str | None]] = []
    async with db.session() as session:
        tracker = ChangeTracker(session)
        sites = await session.scalars(select(Site).where(_due(Site, now)))
        for site in sites:
            _clear(site)
            lapsed.append({"kind": "site", "id": str(site.id), "site_id": str(site.id)})
        circuits = await session.scalars(select(Circuit).where(_due(Circuit, now)))
        for circuit in circuits:
            _clear(circuit)
            lapsed.append(
                {"kind": "circuit", "id": str(circuit.id), "site_id": str(circuit.site_id)}
            )
        if lapsed:
            # Audited as the server's own change, old -> new, in the same transaction.
            await session.flush()
            pending = [{**item, "action": "updated", "fields": LAPSED_FIELDS} for item in lapsed]
            rows = audit_rows(pending, tracker.take(), await actor_of(session, None), now)
            await add_entries(session, rows)
    for item in lapsed:
        bus.publish(CONFIG_CHANGED, {**item, "action": "updated", "fields": LAPSED_FIELDS})
    return len(lapsed)


def _due(model: type[Site] | type[Circuit], now: datetime) -> ColumnElement[bool]:
    expires = model.available_current_expires_at
    return expires.is_not(None) & (expires <= now)


def _clear(node: AvailableCurrentOverride) -> None:
    node.available_current_l1 = node.available_current_l2 = None
    node.available_current_l3 = node.available_current_expires_at = None


async def expire_overrides_forever(
    db: Database, bus: EventBus, every_s: float = CHECK_EVERY_S
) -> None:
    while True:
        try:
            await expire_overrides(db, bus)
        except Exception:  # a database hiccup must not end the loop for good
            log.exception("could not expire available-current overrides")
        await asyncio.sleep(every_s)
