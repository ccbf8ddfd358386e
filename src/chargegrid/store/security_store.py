"""SQL for security (ocpp_0009): the security event log and a charger's passwords
during a rotation, its security profile after an accepted change.

A rotation's states, all compare-and-set on the pending hash so that a rotation, the
handshake that completes it and a newer rotation cannot undo each other:
``stage`` (pending = new, before the charger is told), ``drop`` (it refused: pending
cleared if still ours), ``keep_current`` (it accepted: the current hash is the old one
again, should anything have replaced it meanwhile), ``promote`` (it connected with the
new one: current = new, pending cleared).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.services.security_events import SecurityEvent, Severity, Stored
from chargegrid.store.models import Charger, table_of
from chargegrid.store.ocpp_tables import security_events
from chargegrid.store.types import utcnow

charger_table = table_of(Charger)
chargers = charger_table.c


class SqlSecurityStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- the security event log -----------------------------------------------------

    async def add_security_event(
        self, event: SecurityEvent, severity: Severity, received_at: datetime
    ) -> Stored | None:
        async with self.engine.begin() as conn:
            site = (
                await conn.execute(select(chargers.site_id).where(chargers.id == event.charger_id))
            ).first()
            if site is None:
                return None  # deleted meanwhile: nothing to attach it to
            result = await conn.execute(
                insert(security_events)
                .values(
                    charger_id=event.charger_id,
                    source=event.source,
                    type=event.type,
                    tech_info=event.tech_info,
                    severity=severity,
                    timestamp=event.timestamp,
                    received_at=received_at,
                )
                .returning(security_events.c.id)
            )
            return Stored(int(result.scalar_one()), site.site_id)

    async def page(self, charger_id: uuid.UUID, limit: int, after: int | None) -> list[Any]:
        """Oldest first, ``limit`` rows after the id ``after``."""
        e = security_events.c
        query = select(security_events).where(e.charger_id == charger_id)
        if after is not None:
            query = query.where(e.id > after)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query.order_by(e.id).limit(limit))).all())

    # -- passwords during a rotation --------------------------------------------------

    async def pending_password_hash(self, charger_id: uuid.UUID) -> str | None:
        query = select(chargers.pending_password_hash).where(chargers.id == charger_id)
        async with self.engine.connect() as conn:
            value: str | None = (await conn.execute(query)).scalar()
        return value

    async def stage(self, charger_id: uuid.UUID, new_hash: str) -> None:
        await self._set(chargers.id == charger_id, pending_password_hash=new_hash)

    async def drop(self, charger_id: uuid.UUID, new_hash: str) -> None:
        await self._set(_pending_is(charger_id, new_hash), pending_password_hash=None)

    async def keep_current(
        self, charger_id: uuid.UUID, old_hash: str | None, new_hash: str
    ) -> None:
        await self._set(_pending_is(charger_id, new_hash), password_hash=old_hash)

    async def promote(self, charger_id: uuid.UUID, new_hash: str) -> bool:
        """The new password becomes the only one; False if another rotation or handshake
        got there first."""
        return await self._set(
            _pending_is(charger_id, new_hash), password_hash=new_hash, pending_password_hash=None
        )

    # -- the security profile ---------------------------------------------------------

    async def set_security_profile(self, charger_id: uuid.UUID, profile: int) -> None:
        await self._set(chargers.id == charger_id, security_profile=profile)

    async def _set(self, where: Any, **values: Any) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(charger_table).where(where).values(updated_at=utcnow(), **values)
            )
        return bool(result.rowcount)


def _pending_is(charger_id: uuid.UUID, new_hash: str) -> Any:
    return (chargers.id == charger_id) & (chargers.pending_password_hash == new_hash)
