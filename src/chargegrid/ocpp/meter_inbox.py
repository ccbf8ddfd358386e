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
from sqlalchemy import Table, Uuid, delete, select
from sqlalchemy.engine import Connection, Dialect

from chargegrid.ocpp.tables import metadata as metadata  # store.models.target_metadata() uses it
from chargegrid.ocpp.tables import meter_inbox
from chargegrid.services.charger_ports import Sample
from chargegrid.store.types import UtcDateTime

COMPACT_CHUNK = 500  # inbox rows (messages) per compaction transaction

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


def encode_samples(samples: Sequence[Sample], stamp_of: Callable[[datetime], str]) -> str:
    """Samples as a JSON array of ``[timestamp, measurand, phase, unit, value, context,
    location]``; ``stamp_of`` writes the timestamp as the database stores it (on SQLite
    the compactor copies it verbatim, in SQL)."""
    stamps: dict[datetime, str] = {}  # a message's samples share one or two timestamps
    rows = []
    for s in samples:
        stamp = stamps.get(s.timestamp)
        if stamp is None:
            stamp = stamps[s.timestamp] = stamp_of(s.timestamp)
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
        self.sqlite = dialect.name == "sqlite"
        # SQLite stores timestamps as text, which JSON holds as is; elsewhere ISO 8601.
        self.json_time: Callable[[datetime], str] = (
            self.time if self.sqlite else (lambda value: value.isoformat())
        )
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
    limit: int = COMPACT_CHUNK,
) -> int:
    """Move up to ``limit`` inbox rows into ``meter_values``; returns how many rows.

    Chunks stay small (a few ms) so that group commits, which wait for the same
    single writer, are never held up for long."""
    if statements.sqlite:
        return _compact_in_sql(conn, limit)
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


# SQLite expands the JSON itself (json_each), sorted for the (session, time) index: no
# Python per sample, and the GIL is released for the whole statement. A session or
# charger deleted meanwhile loses the link (or the rows), as the foreign keys demand.
_EXPAND = """
INSERT INTO meter_values (session_id, charger_id, evse_number, timestamp, measurand, phase,
                          unit, value, context, location)
SELECT CASE WHEN i.session_id IN (SELECT id FROM sessions) THEN i.session_id END,
       i.charger_id, i.evse_number,
       j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4,
       j.value ->> 5, j.value ->> 6
FROM meter_value_inbox AS i, json_each(i.samples) AS j
WHERE i.id <= ? AND i.charger_id IN (SELECT id FROM chargers)
ORDER BY 1, 2, 4
"""


def _compact_in_sql(conn: Connection, limit: int) -> int:
    count, last = conn.exec_driver_sql(
        "SELECT count(*), max(id) FROM (SELECT id FROM meter_value_inbox ORDER BY id LIMIT ?)",
        (limit,),
    ).one()
    if not count:
        return 0
    conn.exec_driver_sql(_EXPAND, (last,))
    conn.exec_driver_sql("DELETE FROM meter_value_inbox WHERE id <= ?", (last,))
    return int(count)


def _existing(conn: Connection, table: Table, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    found = conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars()
    return set(found)
