"""The meter-value inbox: durable first, indexed a moment later.

A MeterValues message is acknowledged only once committed. Writing its samples
straight into ``meter_values`` made every group commit rewrite one index page per
active session in each of that table's two secondary indexes (random UUID keys), which
capped a commit at a few thousand messages a second. Instead each message is committed
as ONE append-only inbox row (its samples as JSON), and a compactor moves inbox rows
into ``meter_values`` in large sorted chunks about twice a second, touching each
session's index pages once per chunk instead of once per commit. Readers of
``meter_values`` see a sample within about a second; nothing is ever only in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Integer, MetaData, Table, Text, Uuid, delete, select
from sqlalchemy.engine import Connection, Dialect

from chargegrid.services.charger_ports import Sample
from chargegrid.store.models import BigId
from chargegrid.store.types import UtcDateTime

# Its own metadata: the table belongs to the OCPP server (migration ocpp_0002), not to
# the model the API maps.
metadata = MetaData()

meter_inbox = Table(
    "meter_value_inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", Uuid, nullable=False),
    Column("session_id", Uuid, nullable=True),
    Column("evse_number", Integer, nullable=False),
    Column("samples", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

SAMPLE_COLUMNS = (
    "session_id",
    "charger_id",
    "evse_number",
    "timestamp",
    "measurand",
    "phase",
    "unit",
    "value",
    "context",
    "location",
)

_MARKS: dict[str, Callable[[int], str]] = {
    "numeric_dollar": lambda n: f"${n}",
    "qmark": lambda n: "?",
    "format": lambda n: "%s",
}


def encode_samples(samples: Sequence[Sample]) -> str:
    stamps: dict[datetime, str] = {}  # a message's samples share one or two timestamps
    rows = []
    for s in samples:
        stamp = stamps.get(s.timestamp)
        if stamp is None:
            stamp = stamps[s.timestamp] = s.timestamp.isoformat()
        rows.append([stamp, s.measurand, s.phase, s.unit, s.value, s.context, s.location])
    return orjson.dumps(rows).decode()


def decode_samples(text: str) -> list[Sample]:
    return [
        Sample(
            timestamp=datetime.fromisoformat(ts),
            measurand=measurand,
            value=value,
            phase=phase,
            unit=unit,
            context=context,
            location=location,
        )
        for ts, measurand, phase, unit, value, context, location in orjson.loads(text)
    ]


def processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any]:
    process = type_.bind_processor(dialect)
    return process if process is not None else (lambda value: value)


class DriverStatements:
    """Plain driver-level SQL for the hot bulk writes: SQLAlchemy's executemany costs
    ~20 µs a row in bind processing, the driver's own a fraction of that."""

    def __init__(self, dialect: Dialect) -> None:
        self.uuid = processor(Uuid(), dialect)
        self.time = processor(UtcDateTime(), dialect)
        mark = _MARKS.get(dialect.paramstyle, _MARKS["format"])

        def marks(n: int) -> str:
            return ", ".join(mark(i) for i in range(1, n + 1))

        self.insert_inbox = (
            "INSERT INTO meter_value_inbox (charger_id, session_id, evse_number, samples, "
            f"received_at) VALUES ({marks(5)})"
        )
        self.insert_samples = (
            f"INSERT INTO meter_values ({', '.join(SAMPLE_COLUMNS)}) "
            f"VALUES ({marks(len(SAMPLE_COLUMNS))})"
        )
        self.update_progress = (
            f"UPDATE sessions SET energy_wh = COALESCE({mark(1)}, energy_wh), "
            f"soc = COALESCE({mark(2)}, soc), updated_at = {mark(3)} WHERE id = {mark(4)}"
        )


def compact(
    conn: Connection,
    statements: DriverStatements,
    sessions: Table,
    chargers: Table,
    limit: int = 2_000,
) -> int:
    """Move up to ``limit`` inbox rows into ``meter_values``; returns how many rows.

    Chunks stay small (a few ms) so that group commits, which wait for the same
    single writer, are never held up for long."""
    rows = conn.execute(
        select(
            meter_inbox.c.id,
            meter_inbox.c.charger_id,
            meter_inbox.c.session_id,
            meter_inbox.c.evse_number,
            meter_inbox.c.samples,
        )
        .order_by(meter_inbox.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    # Rows whose session or charger was deleted meanwhile would break the foreign keys.
    live_sessions = _existing(conn, sessions, {r.session_id for r in rows if r.session_id})
    live_chargers = _existing(conn, chargers, {r.charger_id for r in rows})
    bind_uuid, bind_time = statements.uuid, statements.time
    expanded: list[tuple[Any, ...]] = []
    for row in rows:
        if row.charger_id not in live_chargers:
            continue
        session = row.session_id if row.session_id in live_sessions else None
        session_key = bind_uuid(session) if session is not None else None
        charger_key = bind_uuid(row.charger_id)
        for s in decode_samples(row.samples):
            expanded.append(
                (
                    session_key,
                    charger_key,
                    row.evse_number,
                    bind_time(s.timestamp),
                    s.measurand,
                    s.phase,
                    s.unit,
                    s.value,
                    s.context,
                    s.location,
                )
            )
    # Sorted by the (session, time) index: each index page is visited once, in order.
    expanded.sort(key=lambda r: (r[0] or "", r[1], r[3]))
    if expanded:
        conn.exec_driver_sql(statements.insert_samples, expanded)
    conn.execute(delete(meter_inbox).where(meter_inbox.c.id <= rows[-1].id))
    return len(rows)


def _existing(conn: Connection, table: Table, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    found = conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars()
    return set(found)
