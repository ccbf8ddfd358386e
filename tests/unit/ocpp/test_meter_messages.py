"""Meter values stored one row per message: encoding, and reading them back as samples
(ids, arrival order, cursor paging across the legacy ``meter_values`` table)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from chargegrid.services.charger_ports import MeterWrite, Sample, StartWrite, StopWrite
from chargegrid.store.charger_store import SqlChargerStore, chargers, sessions
from chargegrid.store.db import Database
from chargegrid.store.meter_messages import (
    SAMPLE_ID_BASE,
    SAMPLES_PER_ROW,
    decode_samples,
    encode_samples,
    messages_after,
    row_chunks,
    sample_records,
)
from chargegrid.store.migrate import alembic_config
from chargegrid.store.models import MeterValue
from chargegrid.store.uow import UnitOfWork

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def sample(i: int, measurand: str = "Current.Import", phase: str | None = "L1") -> Sample:
    return Sample(T0 + timedelta(seconds=i), measurand, float(i), phase, "A", None, None)


def test_samples_survive_encoding_with_their_time_zone() -> None:
    local = datetime(2026, 11, 21, 11, 0, tzinfo=UTC).astimezone()
    samples = [
        sample(1),
        Sample(local, "SoC", 55.0, None, "Percent", "Sample.Periodic", "EV"),
    ]
    decoded = decode_samples(encode_samples(samples))
    assert decoded == [
        samples[0],
        Sample(local.astimezone(UTC), "SoC", 55.0, None, "Percent", "Sample.Periodic", "EV"),
    ]
    assert all(s.timestamp.tzinfo is UTC for s in decoded)


def test_naive_inbox_timestamps_read_as_utc() -> None:
    text = '[["2026-11-21 10:00:00.000000", "SoC", null, "Percent", 5.0, null, null]]'
    (s,) = decode_samples(text)
    assert s.timestamp == T0


def test_a_huge_message_is_split_into_rows_sample_ids_can_address() -> None:
    samples = [sample(i) for i in range(SAMPLES_PER_ROW * 2 + 3)]
    chunks = list(row_chunks(samples))
    assert [len(c) for c in chunks] == [SAMPLES_PER_ROW, SAMPLES_PER_ROW, 3]
    assert [s for c in chunks for s in c] == samples
    assert list(row_chunks([])) == []


async def test_samples_read_back_in_arrival_order_with_cursor_paging(db: Database) -> None:
    store = SqlChargerStore(db.engine)
    try:
        charger = await store.register("CP-MSG")
        (started,) = await store.apply(
            [StartWrite(charger.id, 1, "TAG-MSG", 0, T0, None, unknown_tags_accepted=True)]
        )
        # One sample stored the old way (one meter_values row), before the messages.
        async with UnitOfWork(db) as uow:
            legacy = MeterValue(
                session_id=started.session_id,
                charger_id=charger.id,
                evse_number=1,
                timestamp=T0,
                measurand="Energy.Active.Import.Register",
                unit="Wh",
                value=1.0,
            )
            uow.meter_values.add_all([legacy])
            await uow.commit()
            legacy_id = legacy.id
        first = [sample(1), sample(2, "Current.Import", "L2"), sample(3, "SoC", None)]
        second = [sample(4), sample(5, "Power.Active.Import", None)]
        tx = started.transaction_id
        await store.apply([MeterWrite(charger.id, 1, tx, first)])
        await store.apply([MeterWrite(charger.id, 1, tx, [])])  # no samples: no row
        await store.apply([StopWrite(charger.id, tx, 9, T0, "Local", None, second)])

        async with UnitOfWork(db) as uow:
            everything = await uow.meter_values.for_session(started.session_id, 100)
            ids = [v.id for v in everything]
            assert ids[0] == legacy_id < SAMPLE_ID_BASE
            assert ids == sorted(ids) and len(set(ids)) == 6
            assert [(v.measurand, v.value) for v in everything[1:]] == [
                (s.measurand, s.value) for s in first + second
            ]
            assert {v.evse_number for v in everything} == {1}
            assert everything[1].timestamp == first[0].timestamp

            # Paging two at a time walks the same list, across both tables.
            paged, after = [], None
            while True:
                page = await uow.meter_values.for_session(started.session_id, 2, after)
                if not page:
                    break
                paged += page
                after = page[-1].id
            assert [v.id for v in paged] == ids
    finally:
        await store.close()


async def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


async def test_migration_keeps_what_the_old_inbox_held(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(db, "ocpp_0003")
        charger_id, session_id, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        # What the old writer committed but its compactor had not moved yet: naive UTC
        # text timestamps, one row for a live session, one whose charger was deleted.
        old_samples = '[["2026-11-21T10:00:00", "SoC", null, "Percent", 55.0, null, null]]'
        async with db.engine.begin() as conn:
            await conn.execute(insert(chargers).values(id=charger_id, ocpp_id="CP-OLD"))
            await conn.execute(
                insert(sessions).values(
                    id=session_id,
                    charger_id=charger_id,
                    evse_number=1,
                    energy_wh=0.0,
                    started_at=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            for owner in (charger_id, gone):
                await conn.exec_driver_sql(
                    "INSERT INTO meter_value_inbox (charger_id, session_id, evse_number, "
                    "samples, received_at) VALUES (?, ?, 1, ?, '2026-11-21 10:00:01')",
                    (owner.hex, session_id.hex, old_samples),
                )
        await migrate(db, "head")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(messages_after(session_id, 10, None))).all()
        (record,) = sample_records(rows, 10, None)
        assert (record.charger_id, record.session_id) == (charger_id, session_id)
        assert (record.measurand, record.value, record.timestamp) == ("SoC", 55.0, T0)

        await migrate(db, "ocpp_0003", down=True)
        async with db.engine.connect() as conn:
            back = (await conn.exec_driver_sql("SELECT samples FROM meter_value_inbox")).all()
        assert [decode_samples(r.samples)[0].value for r in back] == [55.0]
    finally:
        await db.engine.dispose()
