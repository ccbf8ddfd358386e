"""The 1.6 handlers and the group-commit writer on an in-memory store."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ocpp_fakes import MemoryStore

from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.ocpp.times import ocpp_time
from chargegrid.ocpp.v16.central_system import CentralSystem16
from chargegrid.ocpp.v16.meter_values import parse_meter_values
from chargegrid.services.charger_messages import ChargerMessages, summarise
from chargegrid.services.charger_ports import EventLog, IdTagRecord, MeterWrite, StatusWrite
from chargegrid.services.group_commit import GroupCommitWriter
from chargegrid.services.id_tag_policy import id_tag_info

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def central(store: MemoryStore, **options: object) -> tuple[CentralSystem16, EventLog]:
    writer = GroupCommitWriter(store)
    writer.start()
    events = EventLog()
    messages = ChargerMessages(store, writer, events, clock=lambda: NOW, **options)  # type: ignore[arg-type]
    record = await messages.identify("CP1")
    assert record is not None
    return CentralSystem16(record, messages), events


async def test_pending_charger_may_only_boot_until_accepted() -> None:
    store = MemoryStore(registration="Pending")
    cs, _ = await central(store)
    handlers = cs.handlers()
    boot = await handlers["BootNotification"]({"chargePointVendor": "A", "chargePointModel": "B"})
    assert isinstance(boot, dict) and boot["status"] == "Pending"
    with pytest.raises(OcppCallError) as err:
        await handlers["StartTransaction"](
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": ocpp_time(NOW)}
        )
    assert err.value.code is ErrorCode.SECURITY_ERROR
    # The operator accepts the charger; its next boot is answered Accepted.
    store.record = replace(store.record, registration_status="Accepted")
    boot = await handlers["BootNotification"]({"chargePointVendor": "A", "chargePointModel": "B"})
    assert isinstance(boot, dict) and boot["status"] == "Accepted"
    start = await handlers["StartTransaction"](
        {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": ocpp_time(NOW)}
    )
    assert start["transactionId"] == 1  # type: ignore[index]


async def test_unknown_charger_auto_registers_pending() -> None:
    store = MemoryStore()
    writer = GroupCommitWriter(store)
    messages = ChargerMessages(store, writer, EventLog(), auto_register=True)
    record = await messages.identify("NEW-ONE")
    assert record is not None and record.registration_status == "Pending"
    refusing = ChargerMessages(store, writer, EventLog(), auto_register=False)
    assert await refusing.identify("STRANGER") is None


async def test_repeated_start_and_stop_answer_the_same_and_publish_once() -> None:
    store = MemoryStore()
    cs, events = await central(store)
    handlers = cs.handlers()
    start = {"connectorId": 1, "idTag": "T", "meterStart": 5, "timestamp": "2026-03-01T11:00:00Z"}
    first = await handlers["StartTransaction"](start)
    again = await handlers["StartTransaction"](start)
    assert first == again
    stop = {"transactionId": 1, "meterStop": 50, "timestamp": "2026-03-01T11:30:00Z"}
    await handlers["StopTransaction"](stop)
    await handlers["StopTransaction"](stop)
    names = [name for name, _ in events.events]
    assert names.count("session.started") == 1
    assert names.count("session.stopped") == 1
    # The charger's own timestamp is kept, not the time we received it.
    (write,) = store.sessions.values()
    assert write.timestamp == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


async def test_status_notification_maps_no_error_and_connector_zero() -> None:
    store = MemoryStore()
    cs, events = await central(store)
    await cs.handlers()["StatusNotification"](
        {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    )
    await cs.handlers()["StatusNotification"](
        {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted", "info": "RCD"}
    )
    writes = [w for batch in store.batches for w in batch if isinstance(w, StatusWrite)]
    assert [(w.connector_id, w.status, w.error_code) for w in writes] == [
        (0, "Available", None),
        (2, "Faulted", "GroundFailure"),
    ]
    assert events.events[-1][1]["ocpp_status"] == "Faulted"


async def test_meter_values_are_normalised_and_summarised_per_phase() -> None:
    samples = parse_meter_values(
        [
            {
                "timestamp": "2026-03-01T11:00:00Z",
                "sampledValue": [
                    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                    {"value": "16.2", "measurand": "Current.Import", "phase": "L2-N", "unit": "A"},
                    {"value": "31", "measurand": "SoC"},
                    {"value": "1200"},  # no measurand: the energy register (OCPP default)
                ],
            }
        ]
    )
    assert samples[0].value == pytest.approx(7400.0) and samples[0].unit == "W"
    assert samples[1].value == pytest.approx(12500.0) and samples[1].unit == "Wh"
    assert samples[4].measurand == "Energy.Active.Import.Register"
    reading = summarise(samples)
    assert reading is not None
    assert reading.current == {"l1": None, "l2": 16.2, "l3": None}
    assert reading.power_w == pytest.approx(7400.0)
    assert reading.soc == 31.0


async def test_non_numeric_sample_is_a_property_violation() -> None:
    with pytest.raises(OcppCallError) as err:
        parse_meter_values(
            [{"timestamp": "2026-03-01T11:00:00Z", "sampledValue": [{"value": "x"}]}]
        )
    assert err.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


async def test_group_commit_batches_concurrent_writes_and_isolates_a_bad_one() -> None:
    store = MemoryStore()
    writer = GroupCommitWriter(store)
    writer.start()
    record = store.record
    meters = [MeterWrite(record.id, 1, None, ()) for _ in range(50)]
    await asyncio.gather(*(writer.submit(w) for w in meters))
    assert writer.writes == 50
    assert writer.commits < 50  # gathered: fewer transactions than writes
    assert max(len(b) for b in store.batches) > 1

    store.fail_on = StatusWrite
    bad = StatusWrite(record.id, 1, "Available", None, None, None, None, NOW)
    good = MeterWrite(record.id, 1, None, ())
    results = await asyncio.gather(writer.submit(bad), writer.submit(good), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert not isinstance(results[1], BaseException)
    await writer.stop()


@pytest.mark.parametrize(
    ("status", "expires", "busy", "expected"),
    [
        ("Accepted", None, False, "Accepted"),
        ("Blocked", None, False, "Blocked"),
        ("Accepted", NOW - timedelta(days=1), False, "Expired"),
        ("Accepted", NOW + timedelta(days=1), True, "ConcurrentTx"),
    ],
)
def test_id_tag_policy(status: str, expires: datetime | None, busy: bool, expected: str) -> None:
    tag = IdTagRecord("T", status, expires, None)
    assert id_tag_info(tag, NOW, busy_elsewhere=busy).status == expected
    assert id_tag_info(None, NOW).status == "Invalid"
    assert id_tag_info(None, NOW, unknown_accepted=True).status == "Accepted"


async def test_every_answer_we_send_fits_the_response_schema() -> None:
    """Our CALLRESULTs are not re-validated at runtime (docs/ocpp.md); this is why."""
    from chargegrid.ocpp.schemas import schemas

    store = MemoryStore()
    store.tags["T"] = IdTagRecord("T", "Accepted", NOW + timedelta(days=1), "PARENT")
    cs, _ = await central(store)
    handlers = cs.handlers()
    stamp = "2026-03-01T11:00:00Z"
    requests = {
        "BootNotification": {"chargePointVendor": "A", "chargePointModel": "B"},
        "Heartbeat": {},
        "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
        "Authorize": {"idTag": "T"},
        "StartTransaction": {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": stamp},
        "MeterValues": {
            "connectorId": 1,
            "meterValue": [{"timestamp": stamp, "sampledValue": [{"value": "1"}]}],
        },
        "StopTransaction": {"transactionId": 1, "meterStop": 9, "timestamp": stamp, "idTag": "T"},
        "DataTransfer": {"vendorId": "x"},
        "FirmwareStatusNotification": {"status": "Installed"},
        "DiagnosticsStatusNotification": {"status": "Idle"},
    }
    checked = schemas()
    for action, payload in requests.items():
        checked.check_request(action, payload)
        answer = await handlers[action](payload)
        body = answer if isinstance(answer, dict) else answer.payload
        checked.check_response(action, body)
    assert set(requests) <= set(handlers)
