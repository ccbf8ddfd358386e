"""A simulated OCPP 2.0.1 station against a scripted CSMS over an in-memory pipe (every
frame schema-checked both ways): boot, status, TransactionEvents with their seqNo and
meter values, offline replay, refused starts, remote start/stop, reset, triggers."""

from __future__ import annotations

import pytest
from station_csms import (
    StationCsms,
    car,
    charging,
    draw,
    near,
    running,
    station,
    until,
)

from chargegrid.ocpp.errors import CallErrorReceived
from chargegrid.sim.faults import Faults
from chargegrid.sim.state import ChargerSpec


async def test_boot_then_a_status_per_connector_and_heartbeats_at_the_given_interval() -> None:
    csms = StationCsms()
    s = station(csms, spec=ChargerSpec("ST-2", connectors=2, ocpp_version="2.0.1"))
    async with running(s):
        await until(lambda: len(csms.of("StatusNotification")) == 2, "two statuses")
        (boot,) = csms.of("BootNotification")
        assert boot["reason"] == "PowerUp"
        assert boot["chargingStation"] == {
            "model": "SimBox",
            "vendorName": "chargegrid",
            "serialNumber": "SN-ST-2",
            "firmwareVersion": "sim-2.0.1",
        }
        statuses = csms.of("StatusNotification")
        assert [(p["evseId"], p["connectorId"], p["connectorStatus"]) for p in statuses] == [
            (1, 1, "Available"),
            (2, 1, "Available"),
        ]
        assert csms.actions()[0] == "BootNotification"
        assert s.variable("OCPPCommCtrlr", "HeartbeatInterval") == "300"


async def test_pending_boot_is_retried_and_nothing_else_is_sent_before() -> None:
    csms = StationCsms()
    csms.boot_status = "Pending"
    s = station(csms)
    async with running(s):
        await until(lambda: len(csms.of("BootNotification")) >= 1, "a boot")
        s.plug_in(1, car())
        csms.boot_status = "Accepted"
        await csms.call("TriggerMessage", {"requestedMessage": "BootNotification"})
        await until(s.booted.is_set, "accepted after the trigger")
        await until(lambda: bool(csms.events("Started")), "the transaction once accepted")
    first_other = next(i for i, a in enumerate(csms.actions()) if a != "BootNotification")
    assert csms.actions()[first_other - 1] == "BootNotification"
    assert s.registration == "Accepted"


async def test_a_transaction_started_updated_ended_with_seq_no_and_meter_values() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        s.device.find("SampledDataCtrlr", "TxUpdatedInterval").value = "10"
        tx_id = await charging(csms, s)
        await until(
            lambda: any(e["triggerReason"] == "MeterValuePeriodic" for e in csms.events()),
            "a periodic reading",
        )
        s.leave(1)
        await until(lambda: bool(csms.events("Ended")), "Ended")
        await until(
            lambda: csms.of("StatusNotification")[-1]["connectorStatus"] == "Available",
            "Available after the car left",
        )
    events = csms.events()
    assert {e["transactionInfo"]["transactionId"] for e in events} == {tx_id}
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    started, ended = events[0], events[-1]
    assert started["eventType"] == "Started"
    assert started["triggerReason"] == "Authorized"
    assert started["idToken"] == {"idToken": "TAG-1", "type": "ISO14443"}
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert "offline" not in started
    periodic = next(e for e in events if e["triggerReason"] == "MeterValuePeriodic")
    values = periodic["meterValue"][0]["sampledValue"]
    currents = {v["phase"]: v["value"] for v in values if v["measurand"] == "Current.Import"}
    assert currents == {"L1": 16.0, "L2": 16.0, "L3": 16.0}
    assert {v["context"] for v in values} == {"Sample.Periodic"}
    assert {v["measurand"] for v in values} >= {"Energy.Active.Import.Register", "SoC"}
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert ended["transactionInfo"]["chargingState"] == "Idle"
    assert ended["triggerReason"] == "EVCommunicationLost"
    assert {v["context"] for v in ended["meterValue"][0]["sampledValue"]} == {"Transaction.End"}
    # The Occupied / Available statuses frame the transaction.
    statuses = [p["connectorStatus"] for p in csms.of("StatusNotification")]
    assert statuses == ["Available", "Occupied", "Available"]
    order = [a for a in csms.actions() if a in ("TransactionEvent", "StatusNotification")]
    assert order[-2:] == ["TransactionEvent", "StatusNotification"]


async def test_meter_report_fault_power_only_in_updated_events() -> None:
    csms = StationCsms()
    s = station(csms, Faults(meter_report="power"))
    async with running(s):
        s.device.find("SampledDataCtrlr", "TxUpdatedInterval").value = "10"
        await charging(csms, s)
        await until(
            lambda: any(e["triggerReason"] == "MeterValuePeriodic" for e in csms.events()),
            "a periodic reading",
        )
    periodic = next(e for e in csms.events() if e["triggerReason"] == "MeterValuePeriodic")
    values = periodic["meterValue"][0]["sampledValue"]
    assert {v["measurand"] for v in values} == {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
    }
    power = next(v for v in values if v["measurand"] == "Power.Active.Import")
    assert power["value"] == pytest.approx(16 * 3 * 230, rel=0.01)
    assert power["unitOfMeasure"] == {"unit": "W"}


async def test_events_queued_offline_are_flagged_and_replayed_in_order() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        s.device.find("SampledDataCtrlr", "TxUpdatedInterval").value = "5"
        tx_id = await charging(csms, s)
        csms.reachable = False
        s.drop_link()
        await until(lambda: s.connection is None, "the link down")
        before = len(csms.events())
        await until(lambda: len(s.outbox) >= 2, "readings queued while offline")
        csms.reachable = True
        await until(lambda: len(csms.connections) == 2, "reconnected")
        await until(lambda: len(csms.events()) >= before + 2, "the queue replayed")
    events = csms.events()
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert any(e.get("offline") for e in events[before:])
    assert {e["transactionInfo"]["transactionId"] for e in events} == {tx_id}
    # A link drop is not a reboot: no second BootNotification.
    assert len(csms.of("BootNotification")) == 1


async def test_a_refused_start_is_ended_deauthorized_and_the_car_stops() -> None:
    csms = StationCsms()
    csms.start_status = "Invalid"
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        s.plug_in(1, car())
        await until(lambda: bool(csms.events("Ended")), "Ended")
        await until(lambda: max(draw(s)) == 0.0, "the contactor open")
    (ended,) = csms.events("Ended")
    assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    assert ended["triggerReason"] == "Deauthorized"
    assert ended["seqNo"] == 1
    assert s.connectors[1].status == "Finishing"


async def test_charge_after_refused_start_draws_on_with_meter_values_outside_a_tx() -> None:
    csms = StationCsms()
    csms.start_status = "Invalid"
    s = station(csms, Faults(charge_after_refused_start=True))
    async with running(s):
        s.device.find("SampledDataCtrlr", "TxUpdatedInterval").value = "5"
        await until(s.booted.is_set, "boot")
        s.plug_in(1, car())
        await until(lambda: bool(csms.of("MeterValues")), "MeterValues outside a transaction")
        await until(lambda: near(s, 16.0), "the car draws on")
        assert not csms.events("Ended")
        assert csms.of("MeterValues")[0]["evseId"] == 1


async def test_refused_authorize_never_starts() -> None:
    csms = StationCsms()
    csms.authorize_status = "Blocked"
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        s.plug_in(1, car())
        await until(lambda: bool(csms.of("Authorize")), "Authorize")
        await until(lambda: s.connectors[1].status == "Finishing", "Finishing")
    assert csms.of("Authorize")[0]["idToken"] == {"idToken": "TAG-1", "type": "ISO14443"}
    assert not csms.events()


async def test_remote_start_and_stop() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        answer = await csms.call(
            "RequestStartTransaction",
            {"idToken": {"idToken": "REMOTE-1", "type": "Central"}, "remoteStartId": 42},
        )
        assert answer["status"] == "Accepted"
        await until(lambda: bool(csms.events("Started")), "Started")
        (started,) = csms.events("Started")
        assert started["triggerReason"] == "RemoteStart"
        assert started["transactionInfo"]["remoteStartId"] == 42
        assert started["idToken"] == {"idToken": "REMOTE-1", "type": "Central"}
        tx_id = started["transactionInfo"]["transactionId"]
        busy = await csms.call(
            "RequestStartTransaction",
            {"evseId": 1, "idToken": {"idToken": "R2", "type": "Central"}, "remoteStartId": 43},
        )
        assert busy["status"] == "Rejected"
        unknown = await csms.call("RequestStopTransaction", {"transactionId": "nope"})
        assert unknown["status"] == "Rejected"
        stop = await csms.call("RequestStopTransaction", {"transactionId": tx_id})
        assert stop["status"] == "Accepted"
        await until(lambda: bool(csms.events("Ended")), "Ended")
        await until(lambda: max(draw(s)) == 0.0, "the car stopped")
    (ended,) = csms.events("Ended")
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert ended["triggerReason"] == "RemoteStop"
    assert ended["transactionInfo"]["chargingState"] == "EVConnected"


async def test_reset_immediate_ends_the_transaction_and_boots_remote_reset() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        tx_id = await charging(csms, s)
        answer = await csms.call("Reset", {"type": "Immediate"})
        assert answer["status"] == "Accepted"
        await until(lambda: len(csms.of("BootNotification")) == 2, "the second boot")
    (ended,) = csms.events("Ended")
    assert ended["transactionInfo"] == {
        "transactionId": tx_id,
        "chargingState": "EVConnected",
        "stoppedReason": "ImmediateReset",
    }
    assert ended["triggerReason"] == "ResetCommand"
    assert csms.of("BootNotification")[1]["reason"] == "RemoteReset"
    # Ended before going down (on the first connection), not after the reboot.
    assert [r.connection for r in csms.received if r.payload.get("eventType") == "Ended"] == [1]


async def test_reset_on_idle_is_scheduled_until_the_transaction_ends() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await charging(csms, s)
        answer = await csms.call("Reset", {"type": "OnIdle"})
        assert answer["status"] == "Scheduled"
        assert s.boots == 1
        s.leave(1)
        await until(lambda: len(csms.of("BootNotification")) == 2, "the reboot once idle")
    assert csms.of("BootNotification")[1]["reason"] == "RemoteReset"


async def test_power_cut_ends_the_transaction_after_the_boot_power_loss_offline() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await charging(csms, s)
        s.power_cycle()
        await until(lambda: bool(csms.events("Ended")), "Ended after the reboot")
    (ended,) = csms.events("Ended")
    assert ended["transactionInfo"]["stoppedReason"] == "PowerLoss"
    assert ended["offline"] is True
    assert csms.of("BootNotification")[1]["reason"] == "PowerUp"
    second = csms.actions(2)
    assert second.index("BootNotification") < second.index("TransactionEvent")


async def test_resume_after_reboot_keeps_the_transaction_and_the_car_draws_again() -> None:
    csms = StationCsms()
    s = station(csms, Faults(resume_after_reboot=True))
    async with running(s):
        tx_id = await charging(csms, s)
        await csms.call("Reset", {"type": "Immediate"})
        await until(lambda: len(csms.of("BootNotification")) == 2, "the second boot")
        await until(lambda: near(s, 16.0), "the car draws again")
        assert s.connectors[1].tx_id == tx_id
    assert not csms.events("Ended")


async def test_unlock_change_availability_trigger_and_unknown_calls() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await charging(csms, s)
        unlock = await csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert unlock["status"] == "OngoingAuthorizedTransaction"
        unknown = await csms.call("UnlockConnector", {"evseId": 9, "connectorId": 1})
        assert unknown["status"] == "UnknownConnector"
        trigger = await csms.call(
            "TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
        )
        assert trigger["status"] == "Accepted"
        await until(
            lambda: any(e["triggerReason"] == "Trigger" for e in csms.events()), "triggered event"
        )
        await csms.call("TriggerMessage", {"requestedMessage": "MeterValues"})
        await until(lambda: bool(csms.of("MeterValues")), "triggered MeterValues")
        assert csms.of("MeterValues")[0]["meterValue"][0]["sampledValue"][0]["context"] == (
            "Trigger"
        )
        await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        await until(lambda: bool(csms.of("Heartbeat")), "triggered Heartbeat")
        not_impl = await csms.call(
            "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}
        )
        assert not_impl["status"] == "NotImplemented"
        change = await csms.call("ChangeAvailability", {"operationalStatus": "Inoperative"})
        assert change["status"] == "Scheduled"
        data = await csms.call("DataTransfer", {"vendorId": "acme"})
        assert data["status"] == "UnknownVendorId"
        reserve = await csms.call(
            "ReserveNow",
            {
                "id": 1,
                "expiryDateTime": "2030-01-01T00:00:00Z",
                "idToken": {"idToken": "X", "type": "Central"},
            },
        )
        assert reserve["status"] == "Rejected"
        status = await csms.call("GetTransactionStatus", {"transactionId": s.connectors[1].tx_id})
        assert status["ongoingIndicator"] is True


async def test_calls_before_boot_security_error() -> None:
    csms = StationCsms()
    csms.boot_status = "Pending"
    s = station(csms, Faults(calls_before_boot="security_error"))
    async with running(s):
        await until(lambda: bool(csms.of("BootNotification")), "a boot")
        with pytest.raises(CallErrorReceived) as refused:
            await csms.call(
                "GetVariables",
                {
                    "getVariableData": [
                        {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}
                    ]
                },
            )
        assert refused.value.code == "SecurityError"
        trigger = await csms.call("TriggerMessage", {"requestedMessage": "BootNotification"})
        assert trigger["status"] == "Accepted"
