"""OCPP 2.0.1 Part 6 CSMS conformance, block N (Diagnostics).

GetLog, CustomerInformation and the monitoring messages go as ``Native`` commands (the
operator's); what the station reports back (LogStatusNotification, NotifyEvent,
NotifyMonitoringReport, NotifyCustomerInformation) is stored as it came.
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call

from chargegrid.services.charger_commands import Native
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.notices import notices
from tests.e2e.ocpp201.station import Station, booted, now_iso

pytestmark = pytest.mark.e2e

OFFLINE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
CURRENT = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}


@pytest.fixture
async def station(csms: Csms) -> Any:
    async with booted(csms) as station:
        yield station


async def _native(
    csms: Csms, station: Station, action: str, payload: dict[str, Any], answer: str = "Accepted"
) -> dict[str, Any]:
    """``action`` sent as the operator wrote it; what the station received (snake_case)."""
    if answer != "Accepted":
        station.answers[action] = {"status": answer}
    told = await station.command(csms, Native(action, payload))
    assert told["status"] == answer
    sent: dict[str, Any] = station.received.of(action)[-1]
    return sent


# -- monitoring ---------------------------------------------------------------------


async def _monitoring_report(
    csms: Csms, station: Station, payload: dict[str, Any], request_id: int
) -> None:
    sent = await _native(csms, station, "GetMonitoringReport", {"requestId": request_id, **payload})
    assert sent["request_id"] == request_id
    await station.call(
        call.NotifyMonitoringReport(
            request_id=request_id,
            seq_no=0,
            generated_at=now_iso(),
            monitor=[
                {
                    **OFFLINE,
                    "variable_monitoring": [
                        {
                            "id": 1,
                            "transaction": False,
                            "value": 100,
                            "type": "UpperThreshold",
                            "severity": 5,
                        }
                    ],
                }
            ],
        )
    )
    (report,) = await notices(csms, "NotifyMonitoringReport")
    assert report["requestId"] == request_id
    assert report["monitor"][0]["variableMonitoring"][0]["type"] == "UpperThreshold"


async def test_tc_n_01_monitoring_report_with_criteria(csms: Csms, station: Station) -> None:
    await _monitoring_report(csms, station, {"monitoringCriteria": ["ThresholdMonitoring"]}, 1)


async def test_tc_n_02_monitoring_report_with_component_variable(
    csms: Csms, station: Station
) -> None:
    await _monitoring_report(csms, station, {"componentVariable": [OFFLINE]}, 2)


async def test_tc_n_03_monitoring_report_criteria_and_component_variable(
    csms: Csms, station: Station
) -> None:
    payload = {"monitoringCriteria": ["DeltaMonitoring"], "componentVariable": [OFFLINE]}
    await _monitoring_report(csms, station, payload, 3)


async def test_tc_n_47_monitoring_report_all(csms: Csms, station: Station) -> None:
    await _monitoring_report(csms, station, {}, 47)


async def test_tc_n_60_monitoring_report_criteria_and_list(csms: Csms, station: Station) -> None:
    payload = {
        "monitoringCriteria": ["ThresholdMonitoring", "PeriodicMonitoring"],
        "componentVariable": [OFFLINE, CURRENT],
    }
    await _monitoring_report(csms, station, payload, 60)


async def test_tc_n_05_set_monitoring_base(csms: Csms, station: Station) -> None:
    sent = await _native(csms, station, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
    assert sent == {"monitoring_base": "FactoryDefault"}


def _monitor(kind: str, value: float, where: dict[str, Any] = OFFLINE) -> dict[str, Any]:
    return {"value": value, "type": kind, "severity": 4, **where}


async def _set_monitoring(csms: Csms, station: Station, data: list[dict[str, Any]]) -> None:
    told = await station.command(csms, Native("SetVariableMonitoring", {"setMonitoringData": data}))
    assert [r["status"] for r in told["setMonitoringResult"]] == ["Accepted"] * len(data)
    (sent,) = station.received.of("SetVariableMonitoring")
    assert [d["type"] for d in sent["set_monitoring_data"]] == [d["type"] for d in data]


async def test_tc_n_08_set_variable_monitoring_one_element(csms: Csms, station: Station) -> None:
    await _set_monitoring(csms, station, [_monitor("UpperThreshold", 120)])


async def test_tc_n_09_set_variable_monitoring_multiple_elements(
    csms: Csms, station: Station
) -> None:
    await _set_monitoring(
        csms, station, [_monitor("UpperThreshold", 120), _monitor("Delta", 1000, CURRENT)]
    )


async def test_tc_n_24_set_variable_monitoring_periodic(csms: Csms, station: Station) -> None:
    await _set_monitoring(csms, station, [_monitor("Periodic", 60, CURRENT)])


async def test_tc_n_16_set_monitoring_level(csms: Csms, station: Station) -> None:
    assert await _native(csms, station, "SetMonitoringLevel", {"severity": 4}) == {"severity": 4}


async def test_tc_n_17_set_monitoring_level_out_of_range(csms: Csms, station: Station) -> None:
    sent = await _native(csms, station, "SetMonitoringLevel", {"severity": 9}, answer="Rejected")
    assert sent == {"severity": 9}


async def _clear_monitoring(csms: Csms, station: Station, ids: list[int], status: str) -> None:
    station.answers["ClearVariableMonitoring"] = lambda p: {
        "clear_monitoring_result": [{"status": status, "id": i} for i in p["id"]]
    }
    told = await station.command(csms, Native("ClearVariableMonitoring", {"id": ids}))
    assert [r["status"] for r in told["clearMonitoringResult"]] == [status] * len(ids)
    assert station.received.of("ClearVariableMonitoring") == [{"id": ids}]


async def test_tc_n_18_clear_monitoring_too_many_elements(csms: Csms, station: Station) -> None:
    # The station takes what fits in one message (ItemsPerMessageClearVariableMonitoring).
    await _clear_monitoring(csms, station, [1, 2, 3], "Accepted")


async def test_tc_n_44_clear_monitoring_rejected(csms: Csms, station: Station) -> None:
    await _clear_monitoring(csms, station, [1], "Rejected")


# -- events -------------------------------------------------------------------------


async def _event(
    csms: Csms,
    station: Station,
    trigger: str,
    kind: str,
    where: dict[str, Any] = OFFLINE,
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "event_id": 1,
        "timestamp": now_iso(),
        "trigger": trigger,
        "actual_value": "123",
        "event_notification_type": kind,
        **where,
        **extra,
    }
    await station.call(call.NotifyEvent(generated_at=now_iso(), seq_no=0, event_data=[data]))
    (stored,) = await notices(csms, "NotifyEvent")
    (event,) = stored["eventData"]
    assert (event["trigger"], event["eventNotificationType"]) == (trigger, kind)
    assert event["actualValue"] == "123"
    return event


async def test_tc_n_21_alert_event_hard_wired_monitor(csms: Csms, station: Station) -> None:
    await _event(csms, station, "Alerting", "HardWiredMonitor", tech_code="OVT")


async def test_tc_n_48_alert_event_monitoring_on_write_only(csms: Csms, station: Station) -> None:
    await _set_monitoring(csms, station, [_monitor("UpperThreshold", 100)])
    event = await _event(csms, station, "Alerting", "CustomMonitor", variable_monitoring_id=1)
    assert event["variableMonitoringId"] == 1


async def test_tc_n_49_alert_event_threshold_cleared(csms: Csms, station: Station) -> None:
    event = await _event(csms, station, "Alerting", "CustomMonitor", cleared=True)
    assert event["cleared"] is True


async def test_tc_n_50_alert_event_periodic(csms: Csms, station: Station) -> None:
    await _event(csms, station, "Periodic", "CustomMonitor", CURRENT, variable_monitoring_id=2)


# -- logs ---------------------------------------------------------------------------


async def _get_log(
    csms: Csms, station: Station, log_type: str, request_id: int, answer: str = "Accepted"
) -> None:
    log = {"remoteLocation": "ftp://logs.example.net/upload"}
    sent = await _native(
        csms, station, "GetLog", {"logType": log_type, "requestId": request_id, "log": log}, answer
    )
    assert (sent["log_type"], sent["request_id"]) == (log_type, request_id)
    assert sent["log"]["remote_location"] == log["remoteLocation"]


async def _log_statuses(csms: Csms, station: Station, statuses: list[str], request_id: int) -> None:
    for status in statuses:
        await station.call(call.LogStatusNotification(status=status, request_id=request_id))
    stored = await notices(csms, "LogStatusNotification", len(statuses))
    assert [n["status"] for n in stored if n["requestId"] == request_id] == statuses


async def test_tc_n_25_get_diagnostics_log(csms: Csms, station: Station) -> None:
    await _get_log(csms, station, "DiagnosticsLog", 25)
    await _log_statuses(csms, station, ["Uploading", "Uploaded"], 25)


async def test_tc_n_34_get_log_rejected(csms: Csms, station: Station) -> None:
    await _get_log(csms, station, "DiagnosticsLog", 34, answer="Rejected")


async def test_tc_n_35_get_security_log(csms: Csms, station: Station) -> None:
    await _get_log(csms, station, "SecurityLog", 35)
    await _log_statuses(csms, station, ["Uploading", "Uploaded"], 35)


async def test_tc_n_36_get_log_second_request(csms: Csms, station: Station) -> None:
    await _get_log(csms, station, "DiagnosticsLog", 36)
    await _log_statuses(csms, station, ["Uploading"], 36)
    await _get_log(csms, station, "DiagnosticsLog", 37, answer="AcceptedCanceled")
    # The first upload is canceled for the second (which then runs as usual).
    await station.call(call.LogStatusNotification(status="AcceptedCanceled", request_id=36))
    stored = await notices(csms, "LogStatusNotification", 2)
    assert [n["status"] for n in stored] == ["Uploading", "AcceptedCanceled"]


# -- customer information -----------------------------------------------------------


async def _customer(
    csms: Csms,
    station: Station,
    *,
    report: bool,
    clear: bool,
    answer: str = "Accepted",
    data: str | None = None,
    **identifier: Any,
) -> None:
    payload = {"requestId": 27, "report": report, "clear": clear, **identifier}
    if not identifier:
        payload["idToken"] = {"idToken": "CUSTOMER-1", "type": "ISO14443"}
    sent = await _native(csms, station, "CustomerInformation", payload, answer)
    assert (sent["report"], sent["clear"]) == (report, clear)
    if answer != "Accepted" or not report:
        return
    await station.call(
        call.NotifyCustomerInformation(
            data=data or "", seq_no=0, generated_at=now_iso(), request_id=27
        )
    )
    (stored,) = await notices(csms, "NotifyCustomerInformation")
    assert stored["data"] == (data or "")


async def test_tc_n_27_get_customer_information_with_data(csms: Csms, station: Station) -> None:
    await _customer(csms, station, report=True, clear=False, data="card CUSTOMER-1: 3 sessions")


async def test_tc_n_28_get_customer_information_no_data(csms: Csms, station: Station) -> None:
    await _customer(csms, station, report=True, clear=False)


async def test_tc_n_29_get_customer_information_rejected(csms: Csms, station: Station) -> None:
    await _customer(csms, station, report=True, clear=False, answer="Rejected")


async def test_tc_n_30_clear_customer_information_report_with_data(
    csms: Csms, station: Station
) -> None:
    await _customer(csms, station, report=True, clear=True, data="cleared: 3 sessions")


async def test_tc_n_31_clear_customer_information_report_no_data(
    csms: Csms, station: Station
) -> None:
    await _customer(csms, station, report=True, clear=True)


async def test_tc_n_32_clear_customer_information_no_report(csms: Csms, station: Station) -> None:
    await _customer(csms, station, report=False, clear=True)


async def test_tc_n_46_clear_customer_information_local_list(csms: Csms, station: Station) -> None:
    await _customer(csms, station, report=True, clear=True, data="removed from the local list")


async def test_tc_n_62_clear_customer_information_by_identifier(
    csms: Csms, station: Station
) -> None:
    await _customer(csms, station, report=True, clear=True, customerIdentifier="customer-42")


async def test_tc_n_63_clear_customer_information_by_certificate(
    csms: Csms, station: Station
) -> None:
    certificate = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "aa",
        "issuerKeyHash": "bb",
        "serialNumber": "01",
    }
    await _customer(csms, station, report=True, clear=True, customerCertificate=certificate)
