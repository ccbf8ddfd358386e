"""Every version-free command as each version's CALL: the words are right and the
payload passes that version's own schema (so nothing is refused before it is sent)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargegrid.domain.errors import InvalidValue
from chargegrid.ocpp.charging_profiles import current_limit
from chargegrid.ocpp.schemas import schemas
from chargegrid.ocpp.v16 import commands as v16
from chargegrid.ocpp.v201 import commands as v201
from chargegrid.services import charger_commands as c

EXPIRES = datetime(2027, 1, 1, tzinfo=UTC)
SHARED: list[tuple[c.Command, str, str]] = [
    (c.RemoteStart("TAG1", 2, 77), "RemoteStartTransaction", "RequestStartTransaction"),
    (c.RemoteStop(5), "RemoteStopTransaction", "RequestStopTransaction"),
    (c.Reset(hard=True), "Reset", "Reset"),
    (c.Unlock(1), "UnlockConnector", "UnlockConnector"),
    (c.ChangeAvailability(0, operative=False), "ChangeAvailability", "ChangeAvailability"),
    (c.ChangeAvailability(2, operative=True), "ChangeAvailability", "ChangeAvailability"),
    (c.TriggerMessage("StatusNotification", 1), "TriggerMessage", "TriggerMessage"),
    (
        c.SetChargingProfile(1, current_limit(9, 10.0, purpose="TxProfile", transaction_id=5)),
        "SetChargingProfile",
        "SetChargingProfile",
    ),
    (
        c.ClearChargingProfile(purpose="TxDefaultProfile"),
        "ClearChargingProfile",
        "ClearChargingProfile",
    ),
    (c.DataTransfer("acme", "hello", "x"), "DataTransfer", "DataTransfer"),
    (
        c.SendLocalList(
            3,
            (
                c.AuthEntry("TAG1", "Accepted", EXPIRES, "GROUP"),
                c.AuthEntry("T" * 30, "Blocked"),
            ),
        ),
        "SendLocalList",
        "SendLocalList",
    ),
    (c.GetLocalListVersion(), "GetLocalListVersion", "GetLocalListVersion"),
]


@pytest.mark.parametrize(("command", "action16", "action201"), SHARED)
def test_shared_commands_in_both_versions(
    command: c.Command, action16: str, action201: str
) -> None:
    action, payload = v16.encode(command)
    assert action == action16
    schemas("v16").check_request(action, payload)
    action, payload = v201.encode(command)
    assert action == action201
    schemas("v201").check_request(action, payload)


def test_the_words_of_each_version() -> None:
    assert v16.encode(c.Reset(hard=False)) == ("Reset", {"type": "Soft"})
    assert v201.encode(c.Reset(hard=False)) == ("Reset", {"type": "OnIdle"})
    assert v201.encode(c.RemoteStop(5))[1] == {"transactionId": "5"}
    assert v201.encode(c.ChangeAvailability(2, operative=False, connector_id=1))[1] == {
        "operationalStatus": "Inoperative",
        "evse": {"id": 2, "connectorId": 1},
    }
    _, profile = v201.encode(
        c.SetChargingProfile(1, current_limit(9, 10.0, purpose="TxProfile", transaction_id="tx-9"))
    )
    assert profile["chargingProfile"]["transactionId"] == "tx-9"
    assert profile["chargingProfile"]["chargingSchedule"][0]["id"] == 9
    _, local16 = v16.encode(SHARED[10][0])
    assert [e["idTag"] for e in local16["localAuthorizationList"]] == ["TAG1"]  # 30 > 20
    assert local16["localAuthorizationList"][0]["idTagInfo"] == {
        "status": "Accepted",
        "expiryDate": "2027-01-01T00:00:00Z",
        "parentIdTag": "GROUP",
    }
    _, local201 = v201.encode(SHARED[10][0])
    assert local201["localAuthorizationList"][0]["idTokenInfo"]["groupIdToken"] == {
        "idToken": "GROUP",
        "type": "Central",
    }
    assert len(local201["localAuthorizationList"]) == 2


def test_what_a_version_has_no_message_for_is_refused_with_a_pointer() -> None:
    with pytest.raises(InvalidValue, match="variables"):
        v201.encode(c.GetConfiguration())
    with pytest.raises(InvalidValue, match="get-configuration"):
        v16.encode(c.GetVariables((c.VariableName("OCPPCommCtrlr", "HeartbeatInterval"),)))
    with pytest.raises(InvalidValue, match="whole charger"):
        v16.encode(c.Reset(evse_number=1))
    with pytest.raises(InvalidValue, match="not a CSMS call"):
        v201.encode(c.Native("BootNotification", {}))
    with pytest.raises(InvalidValue, match=r"speaks OCPP 2\.0\.1"):
        v201.encode(c.Native("GetLog", {}, version="1.6"))


def test_a_201_report_of_phase_rotations_reads_as_connector_phase_rotation() -> None:
    from chargegrid.domain.connectors import parse_connector_phase_rotation
    from chargegrid.ocpp.v201.device_model import from_report, phase_rotation_report

    def item(component: dict[str, object], value: str) -> dict[str, object]:
        return {
            "component": component,
            "variable": {"name": "PhaseRotation"},
            "variableAttribute": [{"value": value}],
        }

    report = [
        item({"name": "ChargingStation"}, "RST"),
        item({"name": "EVSE", "evse": {"id": 1}}, "STR"),
        item({"name": "Connector", "evse": {"id": 2, "connectorId": 1}}, "TRS"),
        item({"name": "EVSE", "evse": {"id": 3}}, "Unknown"),
    ]
    text = phase_rotation_report(from_report(report))
    assert text == "0.RST,1.STR,2.TRS,3.Unknown"
    said = parse_connector_phase_rotation(text)
    assert str(said.of(1).rotation) == "STR"  # type: ignore[union-attr]
    assert str(said.of(2).rotation) == "TRS"  # type: ignore[union-attr]
    assert said.of(3) is None  # unknown says nothing about it
    assert phase_rotation_report(from_report([])) is None
