"""OCPP 2.0.1 Part 6 CSMS conformance, block J (Meter values).

Every CSMS-side case of the block is here: clock-aligned values in MeterValues and in
TransactionEvents, sampled values in TransactionEvents, signed or not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid import events as ev
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import meter_messages
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-J"
SIGNED = {
    "signed_meter_data": "T0NNRnxkYXRh",
    "signing_method": "ECDSA-secp256r1-SHA256",
    "encoding_method": "OCMF",
    "public_key": "MFkwEwYHKoZIzj0CAQ==",
}


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        yield station


def clock_aligned(
    wh: float, context: str = "Sample.Clock", signed: bool = False
) -> list[dict[str, Any]]:
    energy: dict[str, Any] = {
        "value": wh,
        "context": context,
        "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh"},
    }
    if signed:
        energy["signed_meter_value"] = SIGNED
    return [
        {
            "timestamp": now_iso(),
            "sampled_value": [
                energy,
                *(
                    {
                        "value": 10.0 + n,
                        "context": context,
                        "measurand": "Current.Import",
                        "phase": phase,
                        "unit_of_measure": {"unit": "A"},
                    }
                    for n, phase in enumerate(("L1", "L2", "L3"))
                ),
            ],
        }
    ]


async def session_of(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


async def stored_samples(csms: Csms, count: int) -> list[Any]:
    async def enough() -> bool:
        return len(await csms.rows(select(meter_messages))) >= count

    await eventually(enough, what=f"{count} meter value messages stored")
    return await csms.rows(select(meter_messages).order_by(meter_messages.c.id))


async def test_tc_j_01_clock_aligned_no_transaction(csms: Csms, station: Station) -> None:
    answer = await station.call(call.MeterValues(evse_id=1, meter_value=clock_aligned(5000.0)))
    assert answer is not None  # an empty MeterValuesResponse
    (row,) = await stored_samples(csms, 1)
    assert (row.evse_number, row.session_id) == (1, None)
    samples = json.loads(row.samples)
    assert {s[1] for s in samples} == {"Energy.Active.Import.Register", "Current.Import"}
    assert {s[5] for s in samples} == {"Sample.Clock"}


async def test_tc_j_02_clock_aligned_transaction_ongoing(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    with csms.bus.subscribe(ev.SESSION_UPDATED) as sub:
        answer = await station.call(call.MeterValues(evse_id=1, meter_value=clock_aligned(1600.0)))
        assert answer is not None
        reading = await sub.get()
    assert reading.payload["current"] == {"l1": 10.0, "l2": 11.0, "l3": 12.0}
    await tx.event("Updated", "MeterValueClock", meter_value=clock_aligned(1700.0))
    assert (await session_of(csms, tx)).energy_wh == pytest.approx(700.0)


async def test_tc_j_03_clock_aligned_event_type_ended(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    ending = clock_aligned(2200.0, "Transaction.End")
    ending[0]["sampled_value"].append(
        {"value": 2200.0, "context": "Sample.Clock", "measurand": "Energy.Active.Import.Register"}
    )
    answer = await tx.event(
        "Ended", "StopAuthorized", id_token=TAG, stopped_reason="Local", meter_value=ending
    )
    assert answer.id_token_info["status"] == "Accepted"
    row = await session_of(csms, tx)
    assert (row.meter_stop, row.energy_wh) == (2200.0, pytest.approx(1200.0))


async def test_tc_j_04_clock_aligned_signed(csms: Csms, station: Station) -> None:
    answer = await station.call(
        call.MeterValues(evse_id=1, meter_value=clock_aligned(7000.0, signed=True))
    )
    assert answer is not None
    (row,) = await stored_samples(csms, 1)
    energy = [s for s in json.loads(row.samples) if s[1] == "Energy.Active.Import.Register"]
    assert [s[4] for s in energy] == [7000.0]


async def test_tc_j_07_sampled_started_evse_known(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event(
        "Started",
        "Authorized",
        id_token=TAG,
        meter_value=clock_aligned(3000.0, "Transaction.Begin"),
    )
    assert answer.id_token_info["status"] == "Accepted"
    row = await session_of(csms, tx)
    assert (row.meter_start, row.evse_number) == (3000.0, 1)
    (message,) = await stored_samples(csms, 1)
    assert message.session_id == row.id


async def test_tc_j_08_sampled_begin_evse_not_known(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event(
        "Started",
        "Authorized",
        id_token=TAG,
        evse=False,  # no EVSE yet: the driver has not chosen one
        meter_value=clock_aligned(3000.0, "Transaction.Begin"),
    )
    assert answer.id_token_info["status"] == "Accepted"
    await tx.event("Updated", "CablePluggedIn", wh=3100.0, context="Sample.Periodic")
    row = await session_of(csms, tx)
    assert (row.meter_start, row.energy_wh) == (3000.0, pytest.approx(100.0))


async def test_tc_j_09_sampled_event_type_updated(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    with csms.bus.subscribe(ev.SESSION_UPDATED) as sub:
        await tx.event(
            "Updated", "MeterValuePeriodic", meter_value=clock_aligned(1250.0, "Sample.Periodic")
        )
        reading = await sub.get()
    assert reading.payload["transaction_id"] == tx.id
    assert reading.payload["energy_wh"] == pytest.approx(250.0)
    assert reading.payload["current"] == {"l1": 10.0, "l2": 11.0, "l3": 12.0}


async def test_tc_j_10_sampled_event_type_ended(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await tx.event(
        "Ended",
        "EVCommunicationLost",
        stopped_reason="EVDisconnected",
        meter_value=clock_aligned(1900.0, "Transaction.End"),
    )
    row = await session_of(csms, tx)
    assert (row.meter_stop, row.energy_wh, row.stop_reason) == (
        1900.0,
        pytest.approx(900.0),
        "EVDisconnected",
    )


async def test_tc_j_11_sampled_signed(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event(
        "Started",
        "Authorized",
        id_token=TAG,
        meter_value=clock_aligned(1000.0, "Transaction.Begin", signed=True),
    )
    assert answer.id_token_info["status"] == "Accepted"
    await tx.event(
        "Updated", "MeterValuePeriodic", meter_value=clock_aligned(1300.0, "Sample.Periodic", True)
    )
    assert (await session_of(csms, tx)).energy_wh == pytest.approx(300.0)
