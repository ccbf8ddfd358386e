"""OCPP 2.0.1 Part 6 CSMS conformance, block G (Availability).

Every CSMS-side case of the block is here (a triggered Heartbeat is TC_F_20).
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid import events as ev
from chargegrid.services.charger_commands import ChangeAvailability
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import charger_notices
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-G"


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        yield station


async def _reported(csms: Csms, station: Station, status: str, evse_id: int = 1) -> None:
    """The station reports ``status``; the CSMS publishes it as it came."""
    with csms.bus.subscribe(ev.CHARGER_STATUS_CHANGED) as sub:
        assert await station.status(status, evse_id=evse_id) is not None
        event = await sub.get()
    assert (event.payload["connector_id"], event.payload["ocpp_status"]) == (evse_id, status)
    assert event.payload["ocpp_id"] == "CS1"


async def _change(
    csms: Csms,
    station: Station,
    command: ChangeAvailability,
    expected: dict[str, Any],
    answer: str = "Accepted",
) -> None:
    station.answers["ChangeAvailability"] = {"status": answer}
    told = await station.command(csms, command)
    assert told == {"status": answer}
    assert station.received.of("ChangeAvailability") == [expected]


async def test_tc_g_03_change_availability_evse_to_inoperative(
    csms: Csms, station: Station
) -> None:
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=False),
        {"operational_status": "Inoperative", "evse": {"id": 1}},
    )
    await _reported(csms, station, "Unavailable")


async def test_tc_g_04_change_availability_evse_to_operative(csms: Csms, station: Station) -> None:
    await _reported(csms, station, "Unavailable")
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=True),
        {"operational_status": "Operative", "evse": {"id": 1}},
    )
    await _reported(csms, station, "Available")


async def test_tc_g_05_change_availability_station_to_inoperative(
    csms: Csms, station: Station
) -> None:
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=0, operative=False),
        {"operational_status": "Inoperative"},  # no evse: the whole station
    )
    await _reported(csms, station, "Unavailable")


async def test_tc_g_06_change_availability_station_to_operative(
    csms: Csms, station: Station
) -> None:
    await _reported(csms, station, "Unavailable")
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=0, operative=True),
        {"operational_status": "Operative"},
    )
    await _reported(csms, station, "Available")


async def test_tc_g_07_change_availability_connector_to_inoperative(
    csms: Csms, station: Station
) -> None:
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=False, connector_id=1),
        {"operational_status": "Inoperative", "evse": {"id": 1, "connector_id": 1}},
    )
    await _reported(csms, station, "Unavailable")


async def test_tc_g_08_change_availability_connector_to_operative(
    csms: Csms, station: Station
) -> None:
    await _reported(csms, station, "Unavailable")
    await _change(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=True, connector_id=1),
        {"operational_status": "Operative", "evse": {"id": 1, "connector_id": 1}},
    )
    await _reported(csms, station, "Available")


async def _scheduled_while_charging(
    csms: Csms, station: Station, command: ChangeAvailability, expected: dict[str, Any]
) -> None:
    await _reported(csms, station, "Occupied")
    tx = Transaction(station)
    await tx.start(TAG)
    await _change(csms, station, command, expected, answer="Scheduled")
    # The transaction goes on until it ends; then the change takes effect.
    updated = await tx.event("Updated", "MeterValuePeriodic", wh=1400.0)
    assert updated is not None
    await tx.end("Local", id_token=TAG)
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    assert row.stop_reason == "Local" and row.energy_wh == pytest.approx(1000.0)
    await _reported(csms, station, "Unavailable")


async def test_tc_g_11_change_availability_evse_with_transaction(
    csms: Csms, station: Station
) -> None:
    await _scheduled_while_charging(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=False),
        {"operational_status": "Inoperative", "evse": {"id": 1}},
    )


async def test_tc_g_14_change_availability_station_with_transaction(
    csms: Csms, station: Station
) -> None:
    await _scheduled_while_charging(
        csms,
        station,
        ChangeAvailability(evse_number=0, operative=False),
        {"operational_status": "Inoperative"},
    )


async def test_tc_g_17_change_availability_connector_with_transaction(
    csms: Csms, station: Station
) -> None:
    await _scheduled_while_charging(
        csms,
        station,
        ChangeAvailability(evse_number=1, operative=False, connector_id=1),
        {"operational_status": "Inoperative", "evse": {"id": 1, "connector_id": 1}},
    )


async def test_tc_g_20_connector_lock_failure(csms: Csms, station: Station) -> None:
    event = {
        "trigger": "Delta",
        "actual_value": "true",
        "component": {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connector_id": 1}},
        "variable": {"name": "Problem"},
        "timestamp": now_iso(),
        "event_id": 1,
        "event_notification_type": "CustomMonitor",
    }
    with csms.bus.subscribe(ev.CHARGER_NOTICE) as sub:
        answer = await station.call(
            call.NotifyEvent(generated_at=now_iso(), seq_no=0, event_data=[event])
        )
        assert answer is not None
        notice = await sub.get()
    assert notice.payload["action"] == "NotifyEvent"
    (data,) = notice.payload["payload"]["eventData"]
    assert (data["component"]["name"], data["actualValue"]) == (
        "ConnectorPlugRetentionLock",
        "true",
    )

    async def stored() -> bool:
        rows = await csms.rows(
            select(charger_notices).where(charger_notices.c.action == "NotifyEvent")
        )
        return len(rows) == 1 and rows[0].payload["eventData"][0]["variable"]["name"] == "Problem"

    await eventually(stored, what="the NotifyEvent stored")
