"""What each EVSE may still obey, as its site's owner booked it (ocpp_0016, issue 15):
the last live limit a charger acknowledged (or may have: a call sent but unanswered),
its lease end, the acknowledged failsafe, and until when a profile of unknown value may
bind it. The control loop of a new site owner starts from these rows (the held-limit
rule, docs/control-loop.md), never from zero.

Written only in cluster mode (``control.journal``): a raise before its frame is sent, a
lowering after its acknowledgement, so a row is never below what the charger may obey.
No foreign key: a row of a deleted charger is never read again (rows are read by site,
joined through ``chargers``), and the writes must not wait on charger locks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Integer, Table, Uuid, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chargegrid.store.models import Base, Charger
from chargegrid.store.types import UtcDateTime

held_limits = Table(
    "held_limits",
    Base.metadata,
    Column("charger_id", Uuid(), primary_key=True),
    Column("evse_number", Integer(), primary_key=True),
    # The live limit it may obey (A per phase, phases), for which transaction (int for
    # 1.6, str for 2.0.1; null: any) and until when (null with amps set: no lease).
    Column("live_amps", Float(), nullable=True),
    Column("live_phases", Integer(), nullable=True),
    Column("live_tx", JSON(), nullable=True),
    Column("live_until", UtcDateTime(), nullable=True),
    Column("failsafe_amps", Float(), nullable=True),
    Column("failsafe_phases", Integer(), nullable=True),
    # A call of unknown effect may bind it (counted at its hardware maximum) until then.
    Column("uncertain_until", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)


@dataclass(frozen=True, slots=True)
class HeldRow:
    charger_id: uuid.UUID
    evse_number: int
    live_amps: float | None
    live_phases: int | None
    live_tx: int | str | None
    live_until: datetime | None
    failsafe_amps: float | None
    failsafe_phases: int | None
    uncertain_until: datetime | None
    updated_at: datetime


async def upsert(conn: AsyncConnection, rows: Iterable[HeldRow]) -> int:
    """Write ``rows`` (one statement; the last one of a key wins). The row count."""
    values: list[dict[str, Any]] = [
        {
            "charger_id": r.charger_id,
            "evse_number": r.evse_number,
            "live_amps": r.live_amps,
            "live_phases": r.live_phases,
            "live_tx": r.live_tx,
            "live_until": r.live_until,
            "failsafe_amps": r.failsafe_amps,
            "failsafe_phases": r.failsafe_phases,
            "uncertain_until": r.uncertain_until,
            "updated_at": r.updated_at,
        }
        for r in rows
    ]
    if not values:
        return 0
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(held_limits)
    columns = [c.name for c in held_limits.c if not c.primary_key]
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["charger_id", "evse_number"],
            set_={name: statement.excluded[name] for name in columns},
        ),
        values,
    )
    return len(values)


async def of_site(conn: AsyncConnection, site_id: uuid.UUID) -> list[HeldRow]:
    """Every row of the site's chargers."""
    h = held_limits.c
    result = await conn.execute(
        select(held_limits)
        .join(Charger.__table__, Charger.__table__.c.id == h.charger_id)
        .where(Charger.__table__.c.site_id == site_id)
    )
    return [HeldRow(**row._mapping) for row in result]
