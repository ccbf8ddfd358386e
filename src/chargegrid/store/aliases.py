"""Stable integer aliases (ocpp_0013, issue 17): vendor APIs name things by number where
chargegrid uses UUIDs (Spirii's EVSE ``uid`` and ``chargeboxId``, AMPECO's ids,
Plugchoice's connector ``id``).

One table, one sequence: ``alias`` is an auto-incrementing key (PostgreSQL's sequence,
SQLite's AUTOINCREMENT), so two concurrent writers can never draw the same number and a
number is never handed out twice, not even after the row it named was deleted. Rows are
added by database triggers on each aliased table (the migration), so every way a row
comes to exist — the REST API, a charger's own boot, a Core insert in the OCPP store —
gets its alias in the same transaction, with no code path to forget. Deleting the thing
leaves its alias row behind on purpose: the number stays spent and resolves to nothing
(a 404), never to something else.

The table sits on ``models.Base.metadata`` so the migration check sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import Column, String, Table, UniqueConstraint, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid.store.models import Base, BigId


class AliasKind(StrEnum):
    """What an alias names, with the table whose inserts create it (``TABLES``)."""

    SITE = "site"
    CIRCUIT = "circuit"
    CHARGER = "charger"
    EVSE = "evse"
    CONNECTOR = "connector"


# The aliased tables (the migration puts an insert trigger on each).
TABLES: dict[AliasKind, str] = {
    AliasKind.SITE: "sites",
    AliasKind.CIRCUIT: "circuits",
    AliasKind.CHARGER: "chargers",
    AliasKind.EVSE: "evses",
    AliasKind.CONNECTOR: "connectors",
}

compat_aliases = Table(
    "compat_aliases",
    Base.metadata,
    Column("alias", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("entity_id", Uuid(), nullable=False),
    UniqueConstraint("kind", "entity_id", name="uq_compat_aliases_kind_entity"),
    sqlite_autoincrement=True,  # never reuse a deleted row's number
)
c = compat_aliases.c


async def entity_of(session: AsyncSession, kind: AliasKind, alias: int) -> uuid.UUID | None:
    """The UUID ``alias`` names, if it names a ``kind``."""
    statement = select(c.entity_id).where(c.alias == alias, c.kind == kind.value)
    found: uuid.UUID | None = await session.scalar(statement)
    return found


async def aliases_of(
    session: AsyncSession, kind: AliasKind, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The aliases of ``ids`` (one query); an id without one is left out."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    statement = select(c.entity_id, c.alias).where(c.kind == kind.value, c.entity_id.in_(wanted))
    return {row.entity_id: row.alias for row in await session.execute(statement)}


async def alias_of(session: AsyncSession, kind: AliasKind, entity_id: uuid.UUID) -> int | None:
    return (await aliases_of(session, kind, [entity_id])).get(entity_id)
