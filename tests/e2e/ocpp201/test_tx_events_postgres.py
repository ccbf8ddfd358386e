"""A 2.0.1 transaction's many Updated events on SQLite and on PostgreSQL.

Updated events with meter values on a known transaction take the store's short path
(``TxEvents._progress``: driver-level SQL, the transaction's cached session): what is
stored must be what the general path stores, on both databases, replays included.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from chargegrid import events as ev
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import meter_messages, transaction_events
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.station import Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-PG"
UPDATES = 30


async def session_row(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


async def test_many_updates_replays_and_end(csms_on_each_db: Csms) -> None:
    csms = csms_on_each_db
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        tx = Transaction(station)
        with csms.bus.subscribe("session.*") as sub:
            answer = await tx.start(TAG, wh=1000.0)
            assert answer.id_token_info["status"] == "Accepted"
            for i in range(1, UPDATES + 1):
                state = "SuspendedEV" if i == UPDATES // 2 else "Charging"
                answer = await tx.event(
                    "Updated", "MeterValuePeriodic", wh=1000.0 + 10 * i, charging_state=state
                )
                assert answer.id_token_info is None
            row = await session_row(csms, tx)
            assert (row.energy_wh, row.charging_state, row.meter_start) == (
                10.0 * UPDATES,
                "Charging",
                1000.0,
            )

            # A replay (same seqNo, another reading) changes nothing.
            await tx.event("Updated", "MeterValuePeriodic", wh=9999.0, seq_no=UPDATES)
            assert (await session_row(csms, tx)).energy_wh == 10.0 * UPDATES

            # No register: the energy stays; only the state changes.
            soc = [{"timestamp": now_iso(), "sampled_value": [{"value": 55, "measurand": "SoC"}]}]
            await tx.event(
                "Updated", "ChargingStateChanged", meter_value=soc, charging_state="EVConnected"
            )
            row = await session_row(csms, tx)
            assert (row.energy_wh, row.charging_state) == (10.0 * UPDATES, "EVConnected")

            # A reboot marks the transaction; its next event shows it survived.
            assert (await station.boot("PowerUp")).status == "Accepted"
            assert (await session_row(csms, tx)).rebooted_at is not None
            await tx.event("Updated", "MeterValuePeriodic", wh=1400.0)
            row = await session_row(csms, tx)
            assert (row.rebooted_at, row.energy_wh) == (None, 400.0)

            await tx.end(wh=1500.0)
            # After the end: the samples are kept, the session stays as it ended.
            await tx.event("Updated", "MeterValuePeriodic", wh=1600.0, charging_state="Idle")
            published = []
            while (event := sub.get_nowait()) is not None:
                published.append(event)

    row = await session_row(csms, tx)
    assert row.stopped_at is not None
    assert (row.energy_wh, row.meter_start, row.meter_stop, row.stop_reason) == (
        500.0,
        1000.0,
        1500.0,
        "Local",
    )
    assert (row.charging_state, row.authorization_status, row.id_tag) == (
        "EVConnected",
        "Accepted",
        TAG,
    )

    sent = next(tx.seq)  # seqNos 0 .. sent-1, the replay not counted twice
    seq_nos = await csms.rows(
        select(transaction_events.c.seq_no, transaction_events.c.event_type)
        .where(transaction_events.c.transaction_id == tx.id)
        .order_by(transaction_events.c.seq_no)
    )
    assert [s for s, _ in seq_nos] == list(range(sent))
    kinds = [k for _, k in seq_nos]
    assert (kinds[0], kinds[-2], kinds[-1]) == ("Started", "Ended", "Updated")

    # One meter-value row per event stored (the replay's reading was not).
    ((stored,),) = await csms.rows(
        select(func.count()).where(meter_messages.c.session_id == row.id)
    )
    assert stored == sent

    topics = [e.topic for e in published]
    assert topics.count(ev.SESSION_STARTED) == 1
    assert topics.count(ev.SESSION_STOPPED) == 1
    energies = [
        e.payload["energy_wh"]
        for e in published
        if e.topic == ev.SESSION_UPDATED and "current" in e.payload
    ]
    assert energies[: UPDATES + 1] == [0.0] + [10.0 * i for i in range(1, UPDATES + 1)]
    assert energies[-1] == 600.0  # after the end: computed, not stored
