"""The event and audit log (ocpp_0012): one durable timeline per site and charger of
what chargers did (connected, booted, status, errors, security events, sessions) and
what people changed (who, with which token and role, each field from what to what).

The table sits on ``models.Base.metadata`` so ``store.schema.target_metadata()`` (and
the migration check) sees it without another import there. Site and charger ids carry
no foreign key on purpose: an audit trail must outlive the site or charger it is about
(deleting a site is itself an entry).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Index,
    Row,
    String,
    Table,
    Uuid,
    insert,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chargegrid.store.models import Base, BigId
from chargegrid.store.types import UtcDateTime

event_log = Table(
    "event_log",
    Base.metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # When it happened (the bus's clock for charger events, the commit for changes).
    Column("at", UtcDateTime(), nullable=False),
    # A bus topic (charger.connected, session.stopped, ...) or config.changed.
    Column("type", String(50), nullable=False),
    Column("site_id", Uuid(), nullable=True),
    Column("charger_id", Uuid(), nullable=True),
    # Who: the API token's name (or its id when it has none), role and id; "system"
    # for what the server did by itself (an override lapsing); None for a charger's.
    Column("actor", String(200), nullable=True),
    Column("actor_role", String(16), nullable=True),
    Column("actor_token_id", Uuid(), nullable=True),
    # What a change was made to: kind (site, circuit, charger ...) and its id.
    Column("subject", String(32), nullable=True),
    Column("subject_id", String(64), nullable=True),
    # The event's payload; for a change also {"action", "changes": {field: {old, new}}}.
    Column("data", JSON(), nullable=False),
    Index("ix_event_log_site", "site_id", "id"),
    Index("ix_event_log_charger", "charger_id", "id"),
    Index("ix_event_log_at", "at"),
)
c = event_log.c

MAX_DATA_TEXT = 2000  # a charger's free text (errors, tech info) is clipped to this


async def add_entries(conn: AsyncConnection | AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT (in the caller's transaction)."""
    if rows:
        await conn.execute(insert(event_log), list(rows))


def scope_clause(site_ids: frozenset[uuid.UUID] | None) -> ColumnElement[bool]:
    """A site-scoped token sees its sites' entries only (not site-less ones)."""
    if site_ids is None:
        return true()
    return c.site_id.in_(list(site_ids))


async def page(
    conn: AsyncSession,
    where: ColumnElement[bool],
    limit: int,
    before_id: int | None,
) -> list[Row[Any]]:
    """Newest first, ``limit`` rows older than the id ``before_id``."""
    query = select(event_log).where(where)
    if before_id is not None:
        query = query.where(c.id < before_id)
    result = await conn.execute(query.order_by(c.id.desc()).limit(limit))
    return list(result.all())


def filters(
    *,
    site_id: uuid.UUID | None,
    charger_id: uuid.UUID | None,
    at_from: datetime | None,
    at_to: datetime | None,
    types: Sequence[str],
) -> ColumnElement[bool]:
    """The WHERE of ``GET /events``; a type ending in ``*`` is a prefix (``session.*``)."""
    clause: ColumnElement[bool] = true()
    if site_id is not None:
        clause = clause & (c.site_id == site_id)
    if charger_id is not None:
        clause = clause & (c.charger_id == charger_id)
    if at_from is not None:
        clause = clause & (c.at >= at_from)
    if at_to is not None:
        clause = clause & (c.at < at_to)
    if types:
        wanted: ColumnElement[bool] | None = None
        for t in types:
            one = c.type.startswith(t[:-1], autoescape=True) if t.endswith("*") else c.type == t
            wanted = one if wanted is None else wanted | one
        assert wanted is not None
        clause = clause & wanted
    return clause


__all__ = ["add_entries", "event_log", "filters", "page", "scope_clause"]
