"""The 2.0.1 station's device model and wire mappings: GetVariables / SetVariables
results, NotifyReport splitting, and that what it builds passes the 2.0.1 schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from station_csms import StationCsms, running, station, until

from chargegrid.ocpp.schemas import central_system_actions, schemas
from chargegrid.sim.faults import MeterReport
from chargegrid.sim.metering import sampled_values
from chargegrid.sim.state import ChargerSpec
from chargegrid.sim.v201 import wire
from chargegrid.sim.v201.commands import REFUSALS
from chargegrid.sim.v201.device_model import DeviceModel, Variable, report_messages
from chargegrid.sim.v201.variables import LiveReads, station_variables

V201 = schemas("v201")


def model(spec: ChargerSpec | None = None) -> DeviceModel:
    spec = spec or ChargerSpec("ST-1", connectors=2, password="pw", ocpp_version="2.0.1")
    return DeviceModel(station_variables(spec, LiveReads(lambda evse: "Available", lambda: 3)))


def get(m: DeviceModel, component: dict[str, Any], name: str, **kw: Any) -> dict[str, Any]:
    item = {"component": component, "variable": {"name": name, **kw.pop("variable", {})}, **kw}
    return m.get(item)


def put(m: DeviceModel, component: dict[str, Any], name: str, value: str, **kw: Any) -> str:
    item = {"component": component, "variable": {"name": name}, "attributeValue": value, **kw}
    result = m.set(item)
    V201.check_response("SetVariables", {"setVariableResult": [result]})
    return str(result["attributeStatus"])


def test_get_variables_results() -> None:
    m = model()
    ok = get(m, {"name": "OCPPCommCtrlr"}, "HeartbeatInterval")
    assert (ok["attributeStatus"], ok["attributeValue"]) == ("Accepted", "300")
    assert get(m, {"name": "Nope"}, "X")["attributeStatus"] == "UnknownComponent"
    assert get(m, {"name": "TxCtrlr"}, "Nope")["attributeStatus"] == "UnknownVariable"
    target = get(m, {"name": "TxCtrlr"}, "TxStartPoint", attributeType="Target")
    assert target["attributeStatus"] == "NotSupportedAttributeType"
    secret = get(m, {"name": "SecurityCtrlr"}, "BasicAuthPassword")
    assert secret["attributeStatus"] == "Rejected" and "attributeValue" not in secret
    evse = get(m, {"name": "EVSE", "evse": {"id": 2}}, "PhaseRotation")
    assert evse["attributeValue"] == "RST"
    assert get(m, {"name": "EVSE", "evse": {"id": 3}}, "Power")["attributeStatus"] == (
        "UnknownComponent"
    )
    power = get(m, {"name": "EVSE", "evse": {"id": 1}}, "Power", attributeType="MaxSet")
    assert power["attributeValue"] == str(32 * 3 * 230)
    entries = get(
        m, {"name": "SmartChargingCtrlr"}, "Entries", variable={"instance": "ChargingProfiles"}
    )
    assert entries["attributeValue"] == "3"
    items = get(
        m, {"name": "DeviceDataCtrlr"}, "ItemsPerMessage", variable={"instance": "GetReport"}
    )
    assert items["attributeValue"] == "10"
    V201.check_response("GetVariables", {"getVariableResult": [ok, secret, target, evse]})


def test_set_variables_results() -> None:
    m = model()
    assert put(m, {"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "60") == "Accepted"
    assert m.value("OCPPCommCtrlr", "HeartbeatInterval") == "60"
    assert put(m, {"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "soon") == "Rejected"
    assert put(m, {"name": "TxCtrlr"}, "TxStartPoint", "Authorized") == "Rejected"
    assert put(m, {"name": "SecurityCtrlr"}, "BasicAuthPassword", "n3w-pa55word") == "Accepted"
    assert put(m, {"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority", "1") == (
        "RebootRequired"
    )
    assert put(m, {"name": "SampledDataCtrlr"}, "TxUpdatedMeasurands", "SoC,Voltage") == (
        "Rejected"  # Voltage: not in the valuesList
    )
    assert put(m, {"name": "SampledDataCtrlr"}, "Enabled", "maybe") == "Rejected"
    assert put(m, {"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState", "Faulted") == (
        "Rejected"
    )
    assert put(m, {"name": "Nope"}, "X", "1") == "UnknownComponent"
    assert put(m, {"name": "TxCtrlr"}, "EVConnectionTimeOut", "9", attributeType="MaxSet") == (
        "NotSupportedAttributeType"
    )


def test_reports_never_show_write_only_values_and_pass_the_schema() -> None:
    m = model()
    messages = report_messages(7, m.base_report("FullInventory"), 10, "2026-03-01T12:00:00Z")
    for message in messages:
        V201.check_request("NotifyReport", message)
    items = [item for message in messages for item in message["reportData"]]
    assert len(items) == len(m.variables)
    secret = next(i for i in items if i["variable"]["name"] == "BasicAuthPassword")
    assert secret["variableAttribute"] == [{"type": "Actual", "mutability": "WriteOnly"}]
    config = m.base_report("ConfigurationInventory")
    assert config and all(v.mutability != "ReadOnly" for v in config)
    summary = m.base_report("SummaryInventory")
    assert {v.name for v in summary} == {"AvailabilityState"}


def test_get_report_by_component_variable_and_criteria() -> None:
    m = model()
    tx = m.report([{"component": {"name": "TxCtrlr"}}], [])
    assert {v.name for v in tx} >= {"TxStartPoint", "TxStopPoint", "EVConnectionTimeOut"}
    one = m.report(
        [{"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "Power"}}], []
    )
    assert [(v.component, v.evse, v.name) for v in one] == [("EVSE", 2, "Power")]
    enabled = m.report([], ["Enabled"])
    assert {v.component for v in enabled} == {
        "SampledDataCtrlr",
        "SmartChargingCtrlr",
        "AuthCtrlr",
    }  # AlignedDataCtrlr.Enabled is false


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 60), per_message=st.integers(1, 25))
def test_notify_report_splits_by_items_per_message(count: int, per_message: int) -> None:
    variables = [Variable("C", f"V{i}", str(i)) for i in range(count)]
    messages = report_messages(1, variables, per_message, "2026-03-01T12:00:00Z")
    assert [m["seqNo"] for m in messages] == list(range(len(messages)))
    assert all(len(m["reportData"]) <= per_message for m in messages)
    assert [m["tbc"] for m in messages] == [True] * (len(messages) - 1) + [False] * bool(messages)
    names = [item["variable"]["name"] for m in messages for item in m["reportData"]]
    assert names == [v.name for v in variables]


@settings(max_examples=80, deadline=None)
@given(
    report=st.sampled_from(["current", "power", "phase_power"]),
    amps=st.floats(0, 80, allow_nan=False),
    conductors=st.integers(1, 3),
    phases=st.sampled_from([1, 3]),
    register=st.floats(0, 1e8, allow_nan=False),
    context=st.sampled_from(["Transaction.Begin", "Sample.Periodic", "Transaction.End"]),
)
def test_sampled_values_keep_the_reading_and_pass_the_schema(
    report: MeterReport,
    amps: float,
    conductors: int,
    phases: int,
    register: float,
    context: str,
) -> None:
    v16 = sampled_values(
        report,
        amps=amps,
        conductors=min(conductors, phases),
        phases_wired=phases,
        register_wh=register,
        soc=50.0,
    )
    v201 = wire.sampled_values(v16, context)
    assert [(v["measurand"], v.get("phase")) for v in v201] == [
        (v["measurand"], v.get("phase")) for v in v16
    ]
    assert [v["value"] for v in v201] == [float(v["value"]) for v in v16]
    assert {v["context"] for v in v201} == {context}
    V201.check_request(
        "MeterValues",
        {"evseId": 1, "meterValue": [{"timestamp": "2026-03-01T12:00:00Z", "sampledValue": v201}]},
    )


@pytest.mark.parametrize("reason", sorted(wire.STOPS))
def test_every_stop_reason_maps_to_valid_enums(reason: str) -> None:
    stopped, trigger = wire.stop(reason)
    event = {
        "eventType": "Ended",
        "timestamp": "2026-03-01T12:00:00Z",
        "triggerReason": trigger,
        "seqNo": 3,
        "transactionInfo": {"transactionId": "t", "stoppedReason": stopped},
    }
    V201.check_request("TransactionEvent", event)


def test_stack_profile_maps_purposes_and_keeps_phase_to_use() -> None:
    body = {
        "id": 4,
        "stackLevel": 2,
        "chargingProfilePurpose": "ChargingStationMaxProfile",
        "chargingProfileKind": "Absolute",
        "validTo": "2030-01-01T00:00:00Z",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "startSchedule": "2026-01-01T00:00:00Z",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 2300, "numberPhases": 1, "phaseToUse": 2}
                ],
            }
        ],
    }
    assert wire.stack_profile(body) == {
        "chargingProfileId": 4,
        "stackLevel": 2,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "validTo": "2030-01-01T00:00:00Z",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "startSchedule": "2026-01-01T00:00:00Z",
            "chargingSchedulePeriod": body["chargingSchedule"][0]["chargingSchedulePeriod"],
        },
    }


def test_every_csms_action_has_an_answer_and_refusals_pass_the_schema() -> None:
    s = station(StationCsms())
    table = s._command_table()
    assert set(table) == set(central_system_actions("v201"))
    samples: dict[str, dict[str, Any]] = {
        "ClearVariableMonitoring": {"id": [1, 2]},
        "SetVariableMonitoring": {
            "setMonitoringData": [
                {
                    "value": 1.0,
                    "type": "UpperThreshold",
                    "severity": 5,
                    "component": {"name": "EVSE"},
                    "variable": {"name": "Power"},
                }
            ]
        },
    }
    for action, answer in REFUSALS.items():
        V201.check_response(action, answer(samples.get(action, {})))


async def test_set_variables_change_what_the_station_does() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        answer = await csms.call(
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                        "attributeValue": "15",
                    },
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "attributeValue": "1",
                    },
                ]
            },
        )
        assert [r["attributeStatus"] for r in answer["setVariableResult"]] == [
            "Accepted",
            "Accepted",
        ]
        assert s._meter_interval() == 15.0
        await until(lambda: bool(csms.of("Heartbeat")), "a heartbeat at the new interval", 3)
        report = await csms.call("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"})
        assert report["status"] == "Accepted"
        count = len(s.device.variables)
        await until(
            lambda: sum(len(r["reportData"]) for r in csms.of("NotifyReport")) == count,
            "every variable reported",
        )
        reports = csms.of("NotifyReport")
        assert [r["seqNo"] for r in reports] == list(range(len(reports)))
        assert reports[-1]["tbc"] is False and all(r["tbc"] for r in reports[:-1])
        assert all(len(r["reportData"]) <= 10 for r in reports)
        empty = await csms.call(
            "GetReport",
            {"requestId": 6, "componentVariable": [{"component": {"name": "Nope"}}]},
        )
        assert empty["status"] == "EmptyResultSet"
