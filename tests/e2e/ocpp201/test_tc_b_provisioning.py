"""OCPP 2.0.1 Part 6 CSMS conformance, block B (Provisioning).

Not applicable here: TC_B_31_CSMS (the CSMS sends nothing, TriggerMessage included, to a
station it has not accepted: ``ocpp.boot_sequence`` rule 2; a Pending station boots
again after ``interval``, which TC_B_02 covers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from ocpp.exceptions import SecurityError
from ocpp.v201 import call
from sqlalchemy import select, update

from chargegrid.services.charger_commands import (
    GetBaseReport,
    GetVariables,
    Native,
    Reset,
    VariableName,
)
from chargegrid.services.charger_commands import SetVariables as SetVariablesCommand
from chargegrid.store.charger_store import chargers, sessions
from chargegrid.store.ocpp_tables import charger_variables
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, Transaction, booted, close, connect, now_iso

pytestmark = pytest.mark.e2e

OFFLINE_THRESHOLD = VariableName("OCPPCommCtrlr", "OfflineThreshold")
AUTHORIZE_REMOTE_START = VariableName("AuthCtrlr", "AuthorizeRemoteStart")


async def variable(csms: Csms, component: str, name: str, instance: str = "") -> Any:
    rows = await csms.rows(
        select(charger_variables).where(
            charger_variables.c.component == component,
            charger_variables.c.variable == name,
            charger_variables.c.variable_instance == instance,
        )
    )
    return rows[0] if rows else None


async def wait_variable(csms: Csms, component: str, name: str, value: str) -> Any:
    async def stored() -> bool:
        row = await variable(csms, component, name)
        return row is not None and row.value == value

    await eventually(stored, what=f"{component}.{name} = {value} stored")
    return await variable(csms, component, name)


async def session_of(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


# -- boot ---------------------------------------------------------------------------


async def test_tc_b_01_cold_boot_accepted(csms: Csms) -> None:
    await csms.add_charger("CS1")
    station, ws, task = await connect(csms, "CS1")
    try:
        before = datetime.now(UTC)
        answer = await station.boot()
        assert answer.status == "Accepted"
        assert answer.interval == 60  # the CSMS's heartbeat interval
        told = datetime.fromisoformat(answer.current_time.replace("Z", "+00:00"))
        assert abs((told - before).total_seconds()) < 5
        assert await station.status("Available") is not None
        charger = await csms.charger_row("CS1")
        assert (charger.vendor, charger.model) == ("Independent", "Wallbox")
        assert charger.ocpp_version == "2.0.1" and charger.online
        # Accepted: the CSMS may now talk, and starts its post-boot exchange.
        await station.wait_for("GetBaseReport")
    finally:
        await close(ws, task)


async def test_tc_b_02_cold_boot_pending(csms: Csms) -> None:
    await csms.add_charger("CS1", registration_status="Pending")
    station, ws, task = await connect(csms, "CS1")
    try:
        first = await station.boot()
        assert first.status == "Pending" and first.interval > 0
        # Pending: the connection stays open (B02.FR.06) and nothing is sent to it.
        assert ws.state is websockets.protocol.State.OPEN
        assert not csms.central.gateway.is_online("CS1")
        async with csms.db.engine.begin() as conn:  # the operator accepts it
            await conn.execute(
                update(chargers)
                .where(chargers.c.ocpp_id == "CS1")
                .values(registration_status="Accepted")
            )
        again = await station.boot()
        assert again.status == "Accepted" and again.interval == 60
        await station.status("Available")
        await station.wait_for("GetBaseReport")
        assert station.received.actions()[0] == "GetVariables"
    finally:
        await close(ws, task)


async def test_tc_b_30_pending_gets_security_error(csms: Csms) -> None:
    # (A Rejected station gets no further than the WebSocket handshake here.)
    await csms.add_charger("CS0", registration_status="Rejected")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(csms.url("CS0"), subprotocols=["ocpp2.0.1"])
    await csms.add_charger("CS1", registration_status="Pending")
    station, ws, task = await connect(csms, "CS1")
    try:
        assert (await station.boot()).status == "Pending"
        with pytest.raises(SecurityError):
            await station.call(
                call.StatusNotification(
                    timestamp=now_iso(), connector_status="Available", evse_id=1, connector_id=1
                ),
                suppress=False,
            )
        with pytest.raises(SecurityError):
            await station.call(call.Heartbeat(), suppress=False)
        with pytest.raises(SecurityError):
            await station.call(
                call.Authorize(id_token={"id_token": "TAG", "type": "ISO14443"}), suppress=False
            )
        assert station.received.calls == []
        assert (await station.boot()).status == "Pending"  # booting again is fine
    finally:
        await close(ws, task)


# -- GetVariables / SetVariables ----------------------------------------------------


async def test_tc_b_06_get_variables_single_value(csms: Csms) -> None:
    async with booted(csms) as station:
        station.variables[("OCPPCommCtrlr", "OfflineThreshold")] = "77"
        answer = await station.command(csms, GetVariables((OFFLINE_THRESHOLD,)))
        (sent,) = station.received.of("GetVariables")
        (item,) = sent["get_variable_data"]
        assert item["component"] == {"name": "OCPPCommCtrlr"}
        assert item["variable"] == {"name": "OfflineThreshold"}
        assert item.get("attribute_type", "Actual") == "Actual"
        (result,) = answer["getVariableResult"]
        assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "77")
        row = await wait_variable(csms, "OCPPCommCtrlr", "OfflineThreshold", "77")
        assert row.source == "get"


async def test_tc_b_07_get_variables_multiple_values(csms: Csms) -> None:
    async with booted(csms) as station:
        answer = await station.command(
            csms, GetVariables((OFFLINE_THRESHOLD, AUTHORIZE_REMOTE_START))
        )
        (sent,) = station.received.of("GetVariables")
        assert {
            (d["component"]["name"], d["variable"]["name"]) for d in sent["get_variable_data"]
        } == {
            ("OCPPCommCtrlr", "OfflineThreshold"),
            ("AuthCtrlr", "AuthorizeRemoteStart"),
        }
        assert [r["attributeValue"] for r in answer["getVariableResult"]] == ["60", "true"]
        await wait_variable(csms, "AuthCtrlr", "AuthorizeRemoteStart", "true")


async def test_tc_b_08_get_variables_limited_to_items_per_message(csms: Csms) -> None:
    async with booted(csms) as station:
        await station.call(
            call.NotifyReport(
                request_id=1,
                generated_at=now_iso(),
                seq_no=0,
                tbc=False,
                report_data=[
                    {
                        "component": {"name": "DeviceDataCtrlr"},
                        "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
                        "variable_attribute": [{"value": "4", "mutability": "ReadOnly"}],
                    }
                ],
            )
        )

        async def limit_known() -> bool:
            return await variable(csms, "DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")

        await eventually(limit_known, what="ItemsPerMessage[GetVariables] stored")
        names = (
            VariableName("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetReport"),
            VariableName("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables"),
            VariableName("DeviceDataCtrlr", "BytesPerMessage", variable_instance="GetReport"),
            VariableName("DeviceDataCtrlr", "BytesPerMessage", variable_instance="GetVariables"),
            AUTHORIZE_REMOTE_START,
        )
        await station.command(csms, GetVariables(names))
        sent = station.received.of("GetVariables")
        assert sorted(len(s["get_variable_data"]) for s in sent) == [1, 4]


async def test_tc_b_09_set_variables_single_value(csms: Csms) -> None:
    async with booted(csms) as station:
        answer = await station.command(csms, SetVariablesCommand(((OFFLINE_THRESHOLD, "123"),)))
        (sent,) = station.received.of("SetVariables")
        (item,) = sent["set_variable_data"]
        assert (item["component"]["name"], item["variable"]["name"]) == (
            "OCPPCommCtrlr",
            "OfflineThreshold",
        )
        assert item["attribute_value"] == "123"
        assert item.get("attribute_type", "Actual") == "Actual"
        assert answer["setVariableResult"][0]["attributeStatus"] == "Accepted"
        assert station.variables[("OCPPCommCtrlr", "OfflineThreshold")] == "123"
        row = await wait_variable(csms, "OCPPCommCtrlr", "OfflineThreshold", "123")
        assert row.source == "set"


async def test_tc_b_10_set_variables_multiple_values(csms: Csms) -> None:
    async with booted(csms) as station:
        await station.command(
            csms,
            SetVariablesCommand(((OFFLINE_THRESHOLD, "123"), (AUTHORIZE_REMOTE_START, "false"))),
        )
        (sent,) = station.received.of("SetVariables")
        assert {
            (d["variable"]["name"], d["attribute_value"]) for d in sent["set_variable_data"]
        } == {("OfflineThreshold", "123"), ("AuthorizeRemoteStart", "false")}
        await wait_variable(csms, "OCPPCommCtrlr", "OfflineThreshold", "123")
        await wait_variable(csms, "AuthCtrlr", "AuthorizeRemoteStart", "false")


# -- reports ------------------------------------------------------------------------


async def _base_report(csms: Csms, station: Station, base: str, request_id: int) -> None:
    answer = await station.command(csms, GetBaseReport(report_base=base, request_id=request_id))
    assert answer == {"status": "Accepted"}
    (sent,) = station.received.of("GetBaseReport")
    assert sent == {"request_id": request_id, "report_base": base}
    # The report follows in two parts (tbc), as a station with a big model sends it.
    for seq_no, (component, name, value) in enumerate(
        [("ClockCtrlr", "TimeSource", "NTP"), ("EVSE", "AvailabilityState", "Available")]
    ):
        await station.call(
            call.NotifyReport(
                request_id=request_id,
                generated_at=now_iso(),
                seq_no=seq_no,
                tbc=seq_no == 0,
                report_data=[
                    {
                        "component": {"name": component},
                        "variable": {"name": name},
                        "variable_attribute": [
                            {"type": "Actual", "value": value, "mutability": "ReadWrite"}
                        ],
                        "variable_characteristics": {
                            "data_type": "string",
                            "supports_monitoring": True,
                        },
                    }
                ],
            )
        )
    row = await wait_variable(csms, "ClockCtrlr", "TimeSource", "NTP")
    assert (row.source, row.mutability, row.data_type) == ("report", "ReadWrite", "string")
    await wait_variable(csms, "EVSE", "AvailabilityState", "Available")


async def test_tc_b_12_get_base_report_configuration_inventory(csms: Csms) -> None:
    async with booted(csms) as station:
        await _base_report(csms, station, "ConfigurationInventory", 12)


async def test_tc_b_13_get_base_report_full_inventory(csms: Csms) -> None:
    async with booted(csms) as station:
        await _base_report(csms, station, "FullInventory", 13)


async def test_tc_b_14_get_base_report_summary_inventory(csms: Csms) -> None:
    async with booted(csms) as station:
        await _base_report(csms, station, "SummaryInventory", 14)


async def test_tc_b_18_get_custom_report(csms: Csms) -> None:
    async with booted(csms) as station:
        wanted = [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ]
        station.answers["GetReport"] = {"status": "EmptyResultSet"}
        empty = await station.command(
            csms,
            Native(
                "GetReport",
                {"requestId": 18, "componentCriteria": ["Problem"], "componentVariable": wanted},
            ),
        )
        assert empty == {"status": "EmptyResultSet"}
        station.answers["GetReport"] = {"status": "Accepted"}
        accepted = await station.command(
            csms,
            Native(
                "GetReport",
                {"requestId": 19, "componentCriteria": ["Available"], "componentVariable": wanted},
            ),
        )
        assert accepted == {"status": "Accepted"}
        first, second = station.received.of("GetReport")
        assert first["component_criteria"] == ["Problem"]
        assert second["component_criteria"] == ["Available"]
        assert second["component_variable"][0]["variable"]["name"] == "AvailabilityState"
        await station.call(
            call.NotifyReport(
                request_id=19,
                generated_at=now_iso(),
                seq_no=0,
                report_data=[
                    {
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "AvailabilityState"},
                        "variable_attribute": [{"value": "Available"}],
                    }
                ],
            )
        )

        async def stored() -> bool:
            row = await variable(csms, "EVSE", "AvailabilityState")
            return row is not None and row.evse_id == 1 and row.value == "Available"

        await eventually(stored, what="the custom report stored")


# -- reset --------------------------------------------------------------------------


async def _reboot(csms: Csms, ocpp_id: str, reason: str) -> None:
    """The station comes back after its reset: a new connection and boot."""
    station, ws, task = await connect(csms, ocpp_id)
    try:
        answer = await station.boot(reason)
        assert answer.status == "Accepted"
        await station.status("Available")
    finally:
        await close(ws, task)


async def test_tc_b_20_reset_station_without_transaction_on_idle(csms: Csms) -> None:
    async with booted(csms) as station:
        answer = await station.command(csms, Reset(hard=False))
        assert answer == {"status": "Accepted"}
        (sent,) = station.received.of("Reset")
        assert sent == {"type": "OnIdle"}  # no evseId: the whole station
    await _reboot(csms, "CS1", "RemoteReset")


async def _charging(csms: Csms, station: Station) -> Transaction:
    await csms.add_id_tag("TAG1")
    tx = Transaction(station)
    answer = await tx.start("TAG1")
    assert answer.id_token_info["status"] == "Accepted"
    return tx


async def test_tc_b_21_reset_station_with_transaction_on_idle(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = await _charging(csms, station)
        station.answers["Reset"] = {"status": "Scheduled"}
        answer = await station.command(csms, Reset(hard=False))
        assert answer == {"status": "Scheduled"}
        assert station.received.of("Reset") == [{"type": "OnIdle"}]
        await tx.event("Updated", "StopAuthorized", id_token="TAG1", charging_state="EVConnected")
        await tx.end("Local", trigger_reason="EVCommunicationLost")
        row = await session_of(csms, tx)
        assert row.stopped_at is not None and row.stop_reason == "Local"
    await _reboot(csms, "CS1", "ScheduledReset")


async def test_tc_b_22_reset_station_with_transaction_immediate(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = await _charging(csms, station)
        answer = await station.command(csms, Reset(hard=True))
        assert answer == {"status": "Accepted"}
        assert station.received.of("Reset") == [{"type": "Immediate"}]
        await tx.end("ImmediateReset", trigger_reason="ResetCommand", wh=1800.0)
        row = await session_of(csms, tx)
        assert row.stop_reason == "ImmediateReset" and row.energy_wh == pytest.approx(800.0)
    await _reboot(csms, "CS1", "RemoteReset")


async def test_tc_b_25_reset_evse_without_transaction(csms: Csms) -> None:
    async with booted(csms) as station:
        answer = await station.command(csms, Reset(hard=False, evse_number=1))
        assert answer == {"status": "Accepted"}
        assert station.received.of("Reset") == [{"type": "OnIdle", "evse_id": 1}]


async def test_tc_b_26_reset_evse_with_transaction_on_idle(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = await _charging(csms, station)
        station.answers["Reset"] = {"status": "Scheduled"}
        answer = await station.command(csms, Reset(hard=False, evse_number=1))
        assert answer == {"status": "Scheduled"}
        assert station.received.of("Reset") == [{"type": "OnIdle", "evse_id": 1}]
        updated = await tx.event("Updated", "StopAuthorized", id_token="TAG1")
        assert updated.id_token_info["status"] == "Accepted"
        await tx.end("Local", trigger_reason="EVCommunicationLost")
        assert (await session_of(csms, tx)).stopped_at is not None


async def test_tc_b_27_reset_evse_with_transaction_immediate(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = await _charging(csms, station)
        answer = await station.command(csms, Reset(hard=True, evse_number=1))
        assert answer == {"status": "Accepted"}
        assert station.received.of("Reset") == [{"type": "Immediate", "evse_id": 1}]
        await tx.end("ImmediateReset", trigger_reason="ResetCommand")
        assert (await session_of(csms, tx)).stop_reason == "ImmediateReset"


# -- network profile, subprotocol ---------------------------------------------------

NETWORK_PROFILE = {
    "configurationSlot": 2,
    "connectionData": {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": "wss://csms.example.net/ocpp",
        "messageTimeout": 30,
        "securityProfile": 1,
        "ocppInterface": "Wired0",
    },
}


async def test_tc_b_42_set_network_profile_accepted(csms: Csms) -> None:
    async with booted(csms) as station:
        answer = await station.command(csms, Native("SetNetworkProfile", NETWORK_PROFILE))
        assert answer == {"status": "Accepted"}
        (sent,) = station.received.of("SetNetworkProfile")
        assert sent["configuration_slot"] == 2
        assert sent["connection_data"]["ocpp_csms_url"] == "wss://csms.example.net/ocpp"
        assert sent["connection_data"]["ocpp_transport"] == "JSON"


async def test_tc_b_44_set_network_profile_failed(csms: Csms) -> None:
    async with booted(csms) as station:
        station.answers["SetNetworkProfile"] = {"status": "Failed"}
        answer = await station.command(csms, Native("SetNetworkProfile", NETWORK_PROFILE))
        assert answer == {"status": "Failed"}
        assert csms.central.gateway.is_online("CS1")


async def test_tc_b_58_websocket_subprotocol_validation(csms: Csms) -> None:
    await csms.add_charger("CS1")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(csms.url("CS1"), subprotocols=["ocpp0.1"])
    station, ws, task = await connect(csms, "CS1", subprotocols=["ocpp0.1", "ocpp2.0.1"])
    try:
        assert ws.subprotocol == "ocpp2.0.1"
        assert (await station.boot()).status == "Accepted"
    finally:
        await close(ws, task)
