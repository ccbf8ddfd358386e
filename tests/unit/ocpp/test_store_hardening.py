"""Store hardening (issue 13, part 2) on a real store, SQLite and PostgreSQL: caches after
a failed batch, chargers deleted while connected, id tags scoped to a site, repeated
MeterValues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from tests.unit.ocpp.test_session_states import T0, energy_sample, new_store, status

from chargegrid.bus.memory import EventBus
from chargegrid.ocpp.errors import OcppCallError
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import (
    ChargerGone,
    ChargerRecord,
    MeterWrite,
    NoticeWrite,
    PresenceWrite,
    Started,
    StartWrite,
    StopWrite,
    TxEventWrite,
    Write,
)
from chargegrid.services.group_commit import GroupCommitWriter
from chargegrid.store.charger_store import (
    SqlChargerStore,
    chargers,
    connectors,
    evses,
    id_tags,
    sessions,
)
from chargegrid.store.db import Database
from chargegrid.store.models import Site
from chargegrid.store.ocpp_tables import charger_notices, meter_messages


async def submit_together(writer: GroupCommitWriter, writes: Sequence[Write]) -> list[Any]:
    """Queue every write before the writer runs: they go in one batch."""
    return await asyncio.gather(*(writer.submit(w) for w in writes), return_exceptions=True)


async def places_match_the_database(db: Database, store: SqlChargerStore) -> None:
    """Every cached place is the EVSE and connector rows the database holds."""
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    connectors.c.charger_id, connectors.c.connector_id, evses.c.id, connectors.c.id
                ).join(evses, evses.c.id == connectors.c.evse_id)
            )
        ).all()
    stored = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    for key, place in store._places.items():
        assert stored.get(key) == place, key


async def connector_status(db: Database, charger: ChargerRecord, number: int) -> str | None:
    async with db.engine.connect() as conn:
        query = select(connectors.c.ocpp_status).where(
            connectors.c.charger_id == charger.id, connectors.c.connector_id == number
        )
        status_now: str | None = (await conn.execute(query)).scalar()
    return status_now


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar()
            or 0
        )


def tx_event(charger: ChargerRecord, tx: str, id_tag: str | None) -> TxEventWrite:
    return TxEventWrite(
        charger.id, "Started", tx, 0, "Authorized", T0, 1, 1, id_tag, None, None, None, False
    )


class Unserialisable:
    """A notice payload no JSON column takes: fails the batch at its very end."""


# -- 1. a failed batch ------------------------------------------------------------------


async def test_a_failed_batch_loses_nothing_acknowledged_and_acknowledges_nothing_lost(
    db: Database,
) -> None:
    store, (a, b, c) = await new_store(db, "CP-A", "CP-B", "CP-C")
    writer = GroupCommitWriter(store)
    writer.start()
    try:
        (started_b,) = await store.apply([StartWrite(b.id, 1, "T1", 0, T0, None)])
        good: list[Write] = [
            status(a, "Preparing", T0, connector=5),  # a place created in the failing batch
            StartWrite(a.id, 5, "TAG", 100, T0 + timedelta(seconds=1), None),
            MeterWrite(b.id, 1, started_b.transaction_id, (energy_sample(T0, 1500),)),
            status(c, "Available", T0, connector=2),
            NoticeWrite(c.id, "DataTransfer", {"ok": 1}, T0),
        ]
        bad = NoticeWrite(a.id, "DataTransfer", {"x": Unserialisable()}, T0)
        results = await submit_together(writer, [*good[:2], bad, *good[2:]])
        assert isinstance(results[2], Exception)  # the bad write, and only it, failed
        acknowledged = results[:2] + results[3:]
        assert not any(isinstance(r, BaseException) for r in acknowledged), acknowledged
        assert writer.commits >= 1
        # Everything acknowledged is stored, once.
        assert await connector_status(db, a, 5) == "Preparing"
        assert await connector_status(db, c, 2) == "Available"
        started = acknowledged[1]
        assert isinstance(started, Started) and not started.repeated
        assert await count(db, sessions, sessions.c.id == started.session_id) == 1
        assert await count(db, meter_messages, meter_messages.c.charger_id == b.id) == 1
        assert await count(db, charger_notices) == 1
        await places_match_the_database(db, store)
        # The same connector takes a status and a start again.
        await writer.submit(status(a, "Charging", T0 + timedelta(seconds=2), connector=5))
        assert await connector_status(db, a, 5) == "Charging"
        await writer.submit(StopWrite(a.id, started.transaction_id, 200, T0, "Local", None))
        again = await writer.submit(
            StartWrite(a.id, 5, "TAG", 300, T0 + timedelta(minutes=1), None)
        )
        assert isinstance(again, Started) and again.id_tag_info.status == "Accepted"
        await places_match_the_database(db, store)
    finally:
        await writer.stop()
        await store.close()


async def test_a_place_cached_for_rows_deleted_since_is_found_again(db: Database) -> None:
    """An operator deletes an EVSE the store has cached: a status there is stored (not
    acknowledged and dropped), a start there does not fail on a foreign key."""
    store, (a,) = await new_store(db, "CP-A")
    writer = GroupCommitWriter(store)
    writer.start()
    try:
        await writer.submit(status(a, "Available", T0))
        assert (a.id, 1) in store._places

        async def delete_evse() -> None:
            async with db.engine.begin() as conn:
                await conn.execute(delete(evses).where(evses.c.charger_id == a.id))

        await delete_evse()
        await writer.submit(status(a, "Preparing", T0 + timedelta(seconds=1)))
        assert await connector_status(db, a, 1) == "Preparing"
        await places_match_the_database(db, store)

        await delete_evse()
        started = await writer.submit(StartWrite(a.id, 1, "TAG", 0, T0, None))
        assert isinstance(started, Started) and started.id_tag_info.status == "Accepted"
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(select(sessions).where(sessions.c.id == started.session_id))
            ).one()
        assert row.evse_id is not None and row.connector_pk is not None
        await places_match_the_database(db, store)
    finally:
        await writer.stop()
        await store.close()


# -- 2. deleted while connected ------------------------------------------------------------


async def test_writes_for_a_deleted_charger_are_refused_and_cost_no_one_else(
    db: Database,
) -> None:
    store, (a, b) = await new_store(db, "CP-A", "CP-B")
    writer = GroupCommitWriter(store)
    writer.start()
    try:
        (started,) = await store.apply([StartWrite(a.id, 1, "TAG", 0, T0, None)])
        await store.apply([status(a, "Charging", T0)])  # its place cached
        async with db.engine.begin() as conn:
            await conn.execute(delete(chargers).where(chargers.c.id == a.id))
        for_a: list[Write] = [
            PresenceWrite(a.id, True, T0),  # Heartbeat
            status(a, "Available", T0),
            status(a, "Faulted", T0, connector=0),
            StartWrite(a.id, 2, "T1", 0, T0, None),
            StopWrite(a.id, started.transaction_id, 100, T0, "Local", None),
            MeterWrite(a.id, 1, started.transaction_id, (energy_sample(T0, 50),)),
            NoticeWrite(a.id, "DataTransfer", {}, T0),
            tx_event(a, "tx-1", None),
        ]
        results = await submit_together(writer, [*for_a, status(b, "Available", T0)])
        assert all(isinstance(r, ChargerGone) for r in results[:-1]), results
        assert results[-1] == ()  # B's write in the same batch is stored
        assert await connector_status(db, b, 1) == "Available"
        assert await count(db, meter_messages, meter_messages.c.charger_id == a.id) == 0

        # Through the use cases: a CallError, never an acknowledgement.
        messages = ChargerMessages(store, writer, EventBus())
        with pytest.raises(OcppCallError) as refused:
            await messages.heartbeat(a)
        assert refused.value.code == "SecurityError"
        assert "no longer exists" in refused.value.description
        await messages.disconnected(a)  # nothing to mark offline: no error
    finally:
        await writer.stop()
        await store.close()


# -- 3. id tags of a site ---------------------------------------------------------------------


async def test_a_tag_of_one_site_is_invalid_at_another_sites_charger(db: Database) -> None:
    store, (a, b, loose) = await new_store(db, "CP-A", "CP-B", "CP-LOOSE")
    site_a, site_b = uuid.uuid4(), uuid.uuid4()
    async with db.engine.begin() as conn:
        await conn.execute(
            insert(Site),
            [{"id": s, "name": n, "max_current": 63} for s, n in ((site_a, "A"), (site_b, "B"))],
        )
        for charger, site in ((a, site_a), (b, site_b)):
            await conn.execute(
                chargers.update().where(chargers.c.id == charger.id).values(site_id=site)
            )
        await conn.execute(
            insert(id_tags),
            [
                {"id": uuid.uuid4(), "id_tag": "B-ONLY", "site_id": site_b},
                {"id": uuid.uuid4(), "id_tag": "B-201", "site_id": site_b},
            ],
        )
    writer = GroupCommitWriter(store)
    writer.start()
    messages = ChargerMessages(store, writer, EventBus(), unknown_tags_accepted=True)
    try:
        # 1.6 Authorize and StartTransaction.
        assert (await messages.authorize("B-ONLY", a)).status == "Invalid"
        assert (await messages.authorize("B-ONLY", loose)).status == "Invalid"
        assert (await messages.authorize("B-ONLY", b)).status == "Accepted"
        assert (await messages.authorize("TAG", a)).status == "Accepted"  # global tag
        at_a = await messages.start_transaction(StartWrite(a.id, 1, "B-ONLY", 0, T0, None), "CP-A")
        assert at_a.id_tag_info.status == "Invalid" and at_a.refused
        at_b = await messages.start_transaction(StartWrite(b.id, 1, "B-ONLY", 0, T0, None), "CP-B")
        assert at_b.id_tag_info.status == "Accepted"
        # 2.0.1 TransactionEvent with the idToken.
        result = await messages.transaction_event(tx_event(a, "tx-a", "B-201"), "CP-A")
        assert result.id_tag_info is not None and result.id_tag_info.status == "Invalid"
        result = await messages.transaction_event(tx_event(b, "tx-b", "B-201"), "CP-B")
        assert result.id_tag_info is not None and result.id_tag_info.status == "Accepted"
    finally:
        await writer.stop()
        await store.close()


# -- 4. repeated MeterValues -----------------------------------------------------------------


async def test_a_repeated_meter_values_message_of_a_transaction_is_stored_once(
    db: Database,
) -> None:
    store, (a, b) = await new_store(db, "CP-A", "CP-B")
    writer = GroupCommitWriter(store)
    writer.start()
    try:
        (started,) = await store.apply([StartWrite(a.id, 1, "TAG", 0, T0, None)])
        tx = started.transaction_id
        first = MeterWrite(a.id, 1, tx, (energy_sample(T0, 100), energy_sample(T0, 7)))
        later = MeterWrite(a.id, 1, tx, (energy_sample(T0 + timedelta(seconds=10), 200),))
        # Re-sent after a restart (another batch) and twice in one batch: each answered.
        await writer.submit(first)
        results = await submit_together(writer, [first, later, later, first])
        assert all(r.session_id == started.session_id for r in results), results
        assert await count(db, meter_messages, meter_messages.c.charger_id == a.id) == 2
        # Not the same message: another value, another connector or transaction, another
        # charger. Outside a transaction a repeat is a repeat too: the last two are one.
        others = [
            MeterWrite(a.id, 1, tx, (energy_sample(T0, 101), energy_sample(T0, 7))),
            MeterWrite(a.id, 2, tx, first.samples),
            MeterWrite(a.id, 1, tx + 1000, first.samples),
            MeterWrite(b.id, 1, tx, first.samples),
            MeterWrite(a.id, 1, None, first.samples),
            MeterWrite(a.id, 1, None, first.samples),
        ]
        await submit_together(writer, others)
        assert await count(db, meter_messages) == 2 + len(others) - 1
    finally:
        await writer.stop()
        await store.close()
