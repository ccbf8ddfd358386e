"""OCPP 2.0.1 Part 6 CSMS conformance, block F (Remote control).

Every CSMS-side case of the block is here: the CSMS's commands are sent as the REST
actions send them (``gateway.command``), and what the station sends back is stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid.services.charger_commands import Native, RemoteStart, TriggerMessage, Unlock
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import charger_notices, meter_messages
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-F"


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        yield station


async def session_of(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


async def _remote_start(csms: Csms, station: Station, remote_start_id: int) -> None:
    answer = await station.command(
        csms, RemoteStart(id_tag=TAG, evse_number=1, remote_start_id=remote_start_id)
    )
    assert answer == {"status": "Accepted"}
    (sent,) = station.received.of("RequestStartTransaction")
    assert sent["id_token"] == {"id_token": TAG, "type": "Central"}
    assert (sent["evse_id"], sent["remote_start_id"]) == (1, remote_start_id)


async def test_tc_f_01_remote_start_cable_plugin_first(csms: Csms, station: Station) -> None:
    await station.status("Occupied")
    tx = Transaction(station)
    await tx.event("Started", "CablePluggedIn", charging_state="EVConnected")
    await _remote_start(csms, station, 101)
    answer = await tx.event(
        "Updated", "RemoteStart", id_token=TAG, token_type="Central", remote_start_id=101
    )
    assert answer.id_token_info["status"] == "Accepted"
    await tx.event("Updated", "ChargingStateChanged", charging_state="Charging")
    row = await session_of(csms, tx)
    assert (row.remote_start_id, row.id_tag, row.charging_state) == (101, TAG, "Charging")


async def test_tc_f_02_remote_start_first_authorize_remote_start_true(
    csms: Csms, station: Station
) -> None:
    await _remote_start(csms, station, 102)
    assert (await station.authorize(TAG, "Central"))["status"] == "Accepted"
    tx = Transaction(station)
    answer = await tx.event(
        "Started",
        "RemoteStart",
        id_token=TAG,
        token_type="Central",
        remote_start_id=102,
        charging_state="Idle",
    )
    assert answer.id_token_info["status"] == "Accepted"
    await tx.event("Updated", "CablePluggedIn", charging_state="Charging")
    assert (await session_of(csms, tx)).remote_start_id == 102


async def test_tc_f_03_remote_start_first_authorize_remote_start_false(
    csms: Csms, station: Station
) -> None:
    await _remote_start(csms, station, 103)
    tx = Transaction(station)
    answer = await tx.event(
        "Started", "RemoteStart", id_token=TAG, token_type="Central", remote_start_id=103
    )
    assert answer.id_token_info["status"] == "Accepted"
    row = await session_of(csms, tx)
    assert (row.remote_start_id, row.id_tag, row.stopped_at) == (103, TAG, None)


async def test_tc_f_04_remote_start_cable_plugin_timeout(csms: Csms, station: Station) -> None:
    await _remote_start(csms, station, 104)
    tx = Transaction(station)
    await tx.event(
        "Started",
        "RemoteStart",
        id_token=TAG,
        token_type="Central",
        remote_start_id=104,
        charging_state="Idle",
    )
    await tx.event("Ended", "EVConnectTimeout", stopped_reason="Timeout")
    row = await session_of(csms, tx)
    assert (row.stop_reason, row.remote_start_id) == ("Timeout", 104)


async def test_tc_f_06_unlock_connector_without_transaction(csms: Csms, station: Station) -> None:
    answer = await station.command(csms, Unlock(evse_number=1, connector_id=1))
    assert answer == {"status": "Unlocked"}
    assert station.received.of("UnlockConnector") == [{"evse_id": 1, "connector_id": 1}]


# -- TriggerMessage -----------------------------------------------------------------


async def _trigger(
    csms: Csms, station: Station, message: str, evse: int | None, connector: int | None = None
) -> None:
    if connector is None:
        answer = await station.command(csms, TriggerMessage(message, evse_number=evse))
    else:
        payload = {"requestedMessage": message, "evse": {"id": evse, "connectorId": connector}}
        answer = await station.command(csms, Native("TriggerMessage", payload))
    assert answer == {"status": "Accepted"}
    (sent,) = station.received.of("TriggerMessage")
    assert sent["requested_message"] == message
    if evse is None:
        assert "evse" not in sent
    else:
        assert sent["evse"]["id"] == evse
        if connector is not None:
            assert sent["evse"]["connector_id"] == connector


async def _meter_values(csms: Csms, station: Station, evse_ids: list[int]) -> None:
    for evse_id in evse_ids:
        answer = await station.call(
            call.MeterValues(
                evse_id=evse_id,
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampled_value": [{"value": 1234.0, "context": "Trigger"}],
                    }
                ],
            )
        )
        assert answer is not None

    async def stored() -> bool:
        rows = await csms.rows(select(meter_messages.c.evse_number))
        return sorted(r.evse_number for r in rows) == sorted(evse_ids)

    await eventually(stored, what="the triggered MeterValues stored")


async def test_tc_f_11_trigger_meter_values_specific_evse(csms: Csms, station: Station) -> None:
    await _trigger(csms, station, "MeterValues", 1)
    await _meter_values(csms, station, [1])


async def test_tc_f_12_trigger_meter_values_all_evse(csms: Csms, station: Station) -> None:
    await _trigger(csms, station, "MeterValues", None)
    await _meter_values(csms, station, [1, 2])


async def _triggered_tx_events(csms: Csms, station: Station, evse_ids: list[int]) -> None:
    for evse_id in evse_ids:
        tx = Transaction(station, evse_id=evse_id)
        await tx.start(TAG)
        answer = await tx.event("Updated", "Trigger", wh=1500.0)
        assert answer is not None
        assert (await session_of(csms, tx)).energy_wh == pytest.approx(500.0)


async def test_tc_f_13_trigger_transaction_event_specific_evse(
    csms: Csms, station: Station
) -> None:
    await _trigger(csms, station, "TransactionEvent", 1)
    await _triggered_tx_events(csms, station, [1])


async def test_tc_f_14_trigger_transaction_event_all_evse(csms: Csms, station: Station) -> None:
    await _trigger(csms, station, "TransactionEvent", None)
    await _triggered_tx_events(csms, station, [1, 2])


async def _notice(csms: Csms, action: str) -> Any:
    async def stored() -> bool:
        return bool(
            await csms.rows(select(charger_notices).where(charger_notices.c.action == action))
        )

    await eventually(stored, what=f"{action} stored")
    (row,) = await csms.rows(select(charger_notices).where(charger_notices.c.action == action))
    return row


async def test_tc_f_15_trigger_log_status_notification_idle(csms: Csms, station: Station) -> None:
    await _trigger(csms, station, "LogStatusNotification", None)
    assert await station.call(call.LogStatusNotification(status="Idle")) is not None
    assert (await _notice(csms, "LogStatusNotification")).payload == {"status": "Idle"}


async def test_tc_f_18_trigger_firmware_status_notification_idle(
    csms: Csms, station: Station
) -> None:
    await _trigger(csms, station, "FirmwareStatusNotification", None)
    assert await station.call(call.FirmwareStatusNotification(status="Idle")) is not None
    assert (await _notice(csms, "FirmwareStatusNotification")).payload == {"status": "Idle"}


async def test_tc_f_20_trigger_heartbeat(csms: Csms, station: Station) -> None:
    await _trigger(csms, station, "Heartbeat", None)
    before = (await csms.charger_row("CS1")).last_seen_at
    answer = await station.call(call.Heartbeat())
    assert answer.current_time.endswith("Z") or "+00:00" in answer.current_time

    async def seen() -> bool:
        return (await csms.charger_row("CS1")).last_seen_at > before

    await eventually(seen, what="the heartbeat recorded")


async def _triggered_status(csms: Csms, station: Station, status: str) -> None:
    await _trigger(csms, station, "StatusNotification", 1, 1)
    with csms.bus.subscribe("charger.status_changed") as sub:
        assert await station.status(status) is not None
        event = await sub.get()
    assert (event.payload["connector_id"], event.payload["ocpp_status"]) == (1, status)


async def test_tc_f_23_trigger_status_notification_available(csms: Csms, station: Station) -> None:
    await _triggered_status(csms, station, "Available")


async def test_tc_f_24_trigger_status_notification_occupied(csms: Csms, station: Station) -> None:
    await _triggered_status(csms, station, "Occupied")


async def test_tc_f_27_trigger_message_not_implemented(csms: Csms, station: Station) -> None:
    station.answers["TriggerMessage"] = {"status": "NotImplemented"}
    answer = await station.command(csms, TriggerMessage("SignV2GCertificate"))
    assert answer == {"status": "NotImplemented"}
    assert station.received.of("TriggerMessage") == [{"requested_message": "SignV2GCertificate"}]
    assert csms.central.gateway.is_online("CS1")
