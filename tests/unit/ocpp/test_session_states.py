"""When a session runs and when it ends, in the OCPP store (SQLite and PostgreSQL):
refused starts, connector statuses, reboots, late stops and meter values, busy tags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from chargegrid.control.snapshot import load_site
from chargegrid.services.charger_ports import (
    BootWrite,
    ChargerRecord,
    MeterWrite,
    PresenceWrite,
    Sample,
    Started,
    StartWrite,
    StatusWrite,
    StopWrite,
    SweepWrite,
)
from chargegrid.store.charger_store import SqlChargerStore, chargers, id_tags, sessions
from chargegrid.store.db import Database
from chargegrid.store.models import Site
from chargegrid.store.ocpp_tables import meter_messages

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def start(charger: ChargerRecord, tag: str, connector: int = 1, at: datetime = T0) -> StartWrite:
    return StartWrite(charger.id, connector, tag, 1000, at, None)


def status(charger: ChargerRecord, state: str, at: datetime, connector: int = 1) -> StatusWrite:
    return StatusWrite(charger.id, connector, state, None, None, None, None, at)


def energy_sample(at: datetime, wh: float) -> Sample:
    return Sample(at, "Energy.Active.Import.Register", wh, None, "Wh")


async def row(db: Database, session_id: uuid.UUID) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(sessions).where(sessions.c.id == session_id))).one()


async def planned(db: Database, charger: ChargerRecord) -> set[str]:
    """The session ids the control loop's snapshot plans current for."""
    async with db.engine.begin() as conn:
        site_id = uuid.uuid4()
        await conn.execute(insert(Site).values(id=site_id, name="S", max_current=63))
        await conn.execute(
            update(chargers).where(chargers.c.id == charger.id).values(site_id=site_id)
        )
    async with db.session() as s:
        snapshot = await load_site(s, site_id)
    assert snapshot is not None
    return {x.id for x in snapshot.sessions}


async def new_store(db: Database, *ocpp_ids: str) -> tuple[SqlChargerStore, list[ChargerRecord]]:
    store = SqlChargerStore(db.engine)
    records = [await store.register(i) for i in ocpp_ids]
    async with db.engine.begin() as conn:  # the tags the tests use, valid everywhere
        await conn.execute(
            insert(id_tags),
            [{"id": uuid.uuid4(), "id_tag": t} for t in ("TAG", "T1", "T2", "T3")],
        )
    await store.apply([PresenceWrite(r.id, True, T0) for r in records])
    return store, records


async def test_a_refused_start_is_recorded_but_gets_no_current_and_frees_its_tag(
    db: Database,
) -> None:
    store, (a, b) = await new_store(db, "CP-A", "CP-B")
    try:
        (first,) = await store.apply([start(a, "TAG")])
        (refused,) = await store.apply([start(b, "TAG", at=T0 + timedelta(minutes=1))])
        assert isinstance(refused, Started)
        assert refused.id_tag_info.status == "ConcurrentTx" and refused.refused
        assert refused.transaction_id > first.transaction_id  # 1.6: it gets an id anyway
        stored = await row(db, refused.session_id)
        assert stored.authorization_status == "ConcurrentTx" and stored.stopped_at is None
        assert await planned(db, b) == set()
        # The refused start does not make the tag busy: once the first car stops, the tag
        # starts again.
        await store.apply([StopWrite(a.id, first.transaction_id, 2000, T0, "Local", None)])
        (again,) = await store.apply([start(a, "TAG", at=T0 + timedelta(minutes=2))])
        assert again.id_tag_info.status == "Accepted"
        # A repeat of the refused start (after a reconnect) is refused the same way.
        (repeat,) = await store.apply([start(b, "TAG", at=T0 + timedelta(minutes=1))])
        assert repeat.repeated and repeat.id_tag_info.status == "ConcurrentTx"
        # Its StopTransaction closes it, and is not a running session's stop.
        (stopped,) = await store.apply(
            [StopWrite(b.id, refused.transaction_id, 1000, T0, "DeAuthorized", None)]
        )
        assert stopped.session_id == refused.session_id and not stopped.running
        assert (await row(db, refused.session_id)).stop_reason == "DeAuthorized"
    finally:
        await store.close()


async def test_a_refused_start_closes_on_finishing_or_after_its_timeout(db: Database) -> None:
    store, (a,) = await new_store(db, "CP-A")
    try:
        (refused1,) = await store.apply(
            [StartWrite(a.id, 1, "NOBODY", 0, T0, None)]  # unknown tag: Invalid
        )
        assert refused1.id_tag_info.status == "Invalid"
        (closed,) = await store.apply([status(a, "Finishing", T0 + timedelta(seconds=5))])
        assert [c.session_id for c in closed] == [refused1.session_id]
        assert not closed[0].running
        assert (await row(db, refused1.session_id)).stop_reason == "ConnectorFinishing"

        (refused2,) = await store.apply([StartWrite(a.id, 2, "NOBODY", 0, T0, None)])
        created = (await row(db, refused2.session_id)).created_at
        (early,) = await store.apply([SweepWrite(created + timedelta(seconds=119), 120, 300)])
        assert early == ()
        (late,) = await store.apply([SweepWrite(created + timedelta(seconds=121), 120, 300)])
        assert [c.session_id for c in late] == [refused2.session_id]
        assert (await row(db, refused2.session_id)).stop_reason == "Timeout"
    finally:
        await store.close()


async def test_available_closes_the_session_on_that_connector(db: Database) -> None:
    store, (a,) = await new_store(db, "CP-A")
    try:
        (one,) = await store.apply([start(a, "T1", connector=1)])
        (two,) = await store.apply([start(a, "T2", connector=2)])
        # An Available older than the start (from the charger's queue) says nothing.
        (stale,) = await store.apply([status(a, "Available", T0 - timedelta(seconds=1))])
        assert stale == ()
        (closed,) = await store.apply([status(a, "Available", T0 + timedelta(minutes=30))])
        assert [(c.session_id, c.running) for c in closed] == [(one.session_id, True)]
        stored = await row(db, one.session_id)
        assert stored.stopped_at == T0 + timedelta(minutes=30)
        assert stored.stop_reason == "ConnectorAvailable"
        assert await planned(db, a) == {str(two.session_id)}
        # The tag is free at once.
        (again,) = await store.apply([start(a, "T1", connector=1, at=T0 + timedelta(hours=1))])
        assert again.id_tag_info.status == "Accepted"
    finally:
        await store.close()


async def test_a_reboot_without_resume_closes_and_the_late_stop_completes_it(
    db: Database,
) -> None:
    store, (a,) = await new_store(db, "CP-A")
    try:
        (lost,) = await store.apply([start(a, "T1", connector=1)])
        (kept,) = await store.apply([start(a, "T2", connector=2)])
        (seen,) = await store.apply([start(a, "T3", connector=3)])
        booted = T0 + timedelta(minutes=10)
        await store.apply([BootWrite(a.id, booted, "V", "M", None, None)])
        assert (await row(db, lost.session_id)).rebooted_at == booted
        # While it has not shown itself, its tag is not busy...
        (elsewhere,) = await store.apply([start(a, "T1", connector=4, at=booted)])
        assert elsewhere.id_tag_info.status == "Accepted"
        # ...but it still gets current: the charger may well have resumed it.
        assert str(lost.session_id) in await planned(db, a)
        # Connector 2 says it charges; connector 3's transaction sends meter values.
        await store.apply([status(a, "Charging", booted, connector=2)])
        await store.apply([MeterWrite(a.id, 3, seen.transaction_id, [energy_sample(booted, 1500)])])
        assert (await row(db, kept.session_id)).rebooted_at is None
        assert (await row(db, seen.session_id)).rebooted_at is None

        interval = 10  # the charger's meter interval (default), well under the timeout
        (closed,) = await store.apply([SweepWrite(booted + timedelta(seconds=299), 120, 300)])
        assert closed == ()
        (closed,) = await store.apply([SweepWrite(booted + timedelta(seconds=301), 120, 300)])
        assert interval * 2 < 300
        assert [(c.session_id, c.reason, c.running) for c in closed] == [
            (lost.session_id, "NotResumed", True)
        ]
        stored = await row(db, lost.session_id)
        assert stored.stopped_at == booted and stored.stop_reason == "NotResumed"
        assert str(lost.session_id) not in await planned(db, a)

        # The charger's StopTransaction, queued through the reboot, completes it.
        real_end = T0 + timedelta(minutes=9)
        stop = StopWrite(a.id, lost.transaction_id, 4200, real_end, "PowerLoss", None)
        (late,) = await store.apply([stop])
        assert late.late and not late.repeated and late.energy_wh == 3200
        stored = await row(db, lost.session_id)
        assert (stored.meter_stop, stored.energy_wh) == (4200, 3200)
        assert (stored.stopped_at, stored.stop_reason) == (real_end, "PowerLoss")
        (again,) = await store.apply([stop])
        assert again.repeated
    finally:
        await store.close()


async def test_a_slow_meter_interval_gets_longer_to_resume(db: Database) -> None:
    store, (a,) = await new_store(db, "CP-A")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                update(chargers).where(chargers.c.id == a.id).values(meter_value_interval=900)
            )
        (s,) = await store.apply([start(a, "T1")])
        await store.apply([BootWrite(a.id, T0, "V", "M", None, None)])
        (closed,) = await store.apply([SweepWrite(T0 + timedelta(seconds=1799), 120, 300)])
        assert closed == ()
        (closed,) = await store.apply([SweepWrite(T0 + timedelta(seconds=1801), 120, 300)])
        assert [c.session_id for c in closed] == [s.session_id]
    finally:
        await store.close()


async def test_a_tag_is_busy_only_while_its_session_really_runs(db: Database) -> None:
    store, (a, b) = await new_store(db, "CP-A", "CP-B")
    try:
        now = datetime.now(UTC)
        (first,) = await store.apply([start(a, "TAG", at=now)])
        (busy,) = await store.apply([start(b, "TAG", at=now)])
        assert busy.id_tag_info.status == "ConcurrentTx"
        # Charger A went offline a while ago (but within the suspect time): still busy.
        await store.apply([PresenceWrite(a.id, False, now - timedelta(seconds=500))])
        (still,) = await store.apply([start(b, "TAG", connector=2, at=now)])
        assert still.id_tag_info.status == "ConcurrentTx"
        # Offline longer than the suspect time (600 s): the tag may start elsewhere.
        await store.apply([PresenceWrite(a.id, False, now - timedelta(seconds=700))])
        (free,) = await store.apply([start(b, "TAG", connector=3, at=now)])
        assert free.id_tag_info.status == "Accepted"
        assert (await row(db, first.session_id)).stopped_at is None  # left to its rules
    finally:
        await store.close()


async def test_meter_values_after_the_stop_keep_their_session(db: Database) -> None:
    store, (a,) = await new_store(db, "CP-A")
    try:
        (s,) = await store.apply([start(a, "T1")])
        tx = s.transaction_id
        await store.apply([MeterWrite(a.id, 1, tx, [energy_sample(T0, 1500)])])
        await store.apply([StopWrite(a.id, tx, 2000, T0 + timedelta(minutes=1), "Local", None)])
        # A fresh store: nothing cached, so the link comes from the database.
        fresh = SqlChargerStore(db.engine)
        try:
            (metered,) = await fresh.apply(
                [MeterWrite(a.id, 1, tx, [energy_sample(T0 + timedelta(minutes=1), 1999)])]
            )
        finally:
            await fresh.close()
        assert metered.session_id == s.session_id
        async with db.engine.connect() as conn:
            linked = (
                await conn.execute(
                    select(meter_messages.c.session_id).where(meter_messages.c.charger_id == a.id)
                )
            ).all()
        assert [r.session_id for r in linked] == [s.session_id, s.session_id]
        # The stop's energy stands; a late sample does not rewrite it.
        assert (await row(db, s.session_id)).energy_wh == 1000
    finally:
        await store.close()
