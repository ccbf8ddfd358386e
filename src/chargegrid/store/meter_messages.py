"""Meter values stored one row per message, expanded into samples only when read.

A MeterValues message carries a handful of sampled values (three phase currents,
power, energy, SoC, ...) taken at one or two instants. Storing each sample as its own
``meter_values`` row with two secondary indexes made every message cost six row and
twelve index insertions, which was most of the durable write path's time. Here the
message is ONE ``meter_value_messages`` row (its samples as a compact JSON array),
committed with the group commit before the charger's answer goes out and indexed by
session and by charger in arrival order; nothing moves it afterwards.

Readers get the same per-sample records as before (``sample_records``). A sample's id
is derived from its message's id and its position in the message, above every id the
legacy ``meter_values`` table hands out, so arrival order and cursor paging carry on
across both tables.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Select, Uuid, select
from sqlalchemy.engine import Dialect

from chargegrid.services.charger_ports import Sample
from chargegrid.store.ocpp_tables import meter_messages
from chargegrid.store.types import UtcDateTime

# Sample ids: SAMPLE_ID_BASE + message id * SAMPLES_PER_ROW + position. Above any
# legacy meter_values id, and below 2**53 (JSON numbers stay exact in every client)
# for the first 2**41 messages.
SAMPLE_ID_BASE = 1 << 40
SAMPLES_PER_ROW = 1 << 12


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One stored sampled value as readers see it (the fields of a ``meter_values`` row)."""

    id: int
    session_id: uuid.UUID | None
    charger_id: uuid.UUID
    evse_number: int
    timestamp: datetime
    measurand: str
    phase: str | None
    unit: str | None
    value: float
    context: str | None
    location: str | None


def row_chunks(samples: Sequence[Sample]) -> Iterator[Sequence[Sample]]:
    """A message's samples in rows of at most SAMPLES_PER_ROW (a 64 KiB frame can carry
    a few thousand tiny samples; sample ids leave room for 4,096 a row)."""
    for start in range(0, len(samples), SAMPLES_PER_ROW):
        yield samples[start : start + SAMPLES_PER_ROW]


def encode_samples(samples: Sequence[Sample]) -> str:
    """Samples as a JSON array of ``[timestamp, measurand, phase, unit, value, context,
    location]``; orjson writes the (aware) timestamps as RFC 3339 itself."""
    return orjson.dumps(
        [
            [s.timestamp, s.measurand, s.phase, s.unit, s.value, s.context, s.location]
            for s in samples
        ]
    ).decode()


def message_digest(connector_id: int, transaction_id: int | None, encoded: str) -> int:
    """What makes a MeterValues row a repeat of another of its charger: the same
    connector (EVSE), transactionId (or none) and samples (``encoded``, timestamps and
    values included), as a signed 64-bit integer (a BIGINT on every database)."""
    tx = "-" if transaction_id is None else transaction_id
    key = f"{connector_id}|{tx}|{encoded}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    # Rows moved from the old inbox on SQLite hold naive UTC text.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def decode_samples(text: str) -> list[Sample]:
    return [
        Sample(
            timestamp=_utc(ts),
            measurand=measurand,
            value=value,
            phase=phase,
            unit=unit,
            context=context,
            location=location,
        )
        for ts, measurand, phase, unit, value, context, location in orjson.loads(text)
    ]


def messages_after(session_id: uuid.UUID, limit: int, after_id: int | None) -> Select[Any]:
    """The session's message rows that may hold samples with an id above ``after_id``
    (enough of them for ``limit`` samples: every row holds at least one)."""
    first = 0
    if after_id is not None and after_id >= SAMPLE_ID_BASE:
        first = (after_id - SAMPLE_ID_BASE) // SAMPLES_PER_ROW
    m = meter_messages.c
    return (
        select(m.id, m.session_id, m.charger_id, m.evse_number, m.samples)
        .where(m.session_id == session_id, m.id >= first)
        .order_by(m.id)
        .limit(limit + 1)
    )


def sample_records(rows: Sequence[Any], limit: int, after_id: int | None) -> list[SampleRecord]:
    """``rows`` (from :func:`messages_after`) expanded: at most ``limit`` samples with an
    id above ``after_id``, in arrival order."""
    out: list[SampleRecord] = []
    for row in rows:
        base = SAMPLE_ID_BASE + row.id * SAMPLES_PER_ROW
        for i, s in enumerate(decode_samples(row.samples)):
            sample_id = base + i
            if after_id is not None and sample_id <= after_id:
                continue
            out.append(
                SampleRecord(
                    sample_id,
                    row.session_id,
                    row.charger_id,
                    row.evse_number,
                    s.timestamp,
                    s.measurand,
                    s.phase,
                    s.unit,
                    s.value,
                    s.context,
                    s.location,
                )
            )
            if len(out) == limit:
                return out
    return out


_MARKS: dict[str, Callable[[int], str]] = {
    "numeric_dollar": lambda n: f"${n}",
    "qmark": lambda n: "?",
    "format": lambda n: "%s",
}


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
        mark = _MARKS.get(dialect.paramstyle, _MARKS["format"])

        def marks(n: int) -> str:
            return ", ".join(mark(i) for i in range(1, n + 1))

        # A repeat of a MeterValues message (same digest) inserts nothing;
        # rows without a digest (NULL) never conflict.
        self.insert_message = (
            "INSERT INTO meter_value_messages (charger_id, session_id, evse_number, samples, "
            f"received_at, digest) VALUES ({marks(6)}) ON CONFLICT DO NOTHING"
        )
        # Open sessions only: after StopTransaction the energy is meter_stop's. A meter
        # value with its transaction id also shows the transaction survived a reboot.
        self.update_progress = (
            f"UPDATE sessions SET energy_wh = COALESCE({mark(1)}, energy_wh), "
            f"soc = COALESCE({mark(2)}, soc), updated_at = {mark(3)}, rebooted_at = NULL "
            f"WHERE id = {mark(4)} AND stopped_at IS NULL"
        )
        # 2.0.1 TransactionEvent (store/tx_events.py). The event's identity: a replay
        # hits the unique key and inserts nothing (rowcount 0); DO NOTHING rather than
        # an IntegrityError, which would abort the whole transaction on PostgreSQL.
        self.record_tx_event = (
            "INSERT INTO transaction_events (charger_id, transaction_id, seq_no, event_type, "
            f"trigger_reason, timestamp, offline, received_at) VALUES ({marks(8)}) "
            "ON CONFLICT DO NOTHING"
        )
        # An Updated event's progress on a known session, open ones only (the same
        # fields as the general path: energy when the register was sent, chargingState
        # when given). What it returns is the database's word on whether it still runs.
        self.tx_progress = (
            f"UPDATE sessions SET energy_wh = COALESCE({mark(1)}, energy_wh), "
            f"charging_state = COALESCE({mark(2)}, charging_state), updated_at = {mark(3)}, "
            f"soc = COALESCE({mark(4)}, soc), "
            f"rebooted_at = NULL WHERE id = {mark(5)} AND stopped_at IS NULL "
            "RETURNING authorization_status, energy_wh"
        )

    def stamp(self, value: datetime) -> Any:
        """``value`` bound once for every row of a batch. On SQLite the naive UTC value
        would otherwise be turned into text by the driver for each row; this is the
        same text (sqlite3's datetime adapter: ``isoformat(" ")``)."""
        bound = self.time(value)
        return bound.isoformat(" ") if self.sqlite else bound

    def at(self, value: datetime) -> Any:
        """``value`` bound as SQLAlchemy's own statements bind it: on SQLite its text
        always has six fractional digits (``isoformat`` drops them at .000000, and the
        column's values are compared as text)."""
        if not self.sqlite:
            return self.time(value)
        if value.tzinfo is not UTC:  # as UtcDateTime binds it
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
