"""Input hardening (issue 13, part 2): what a fuzzer sent that once made the server
answer InternalError, store what it cannot read back, or answer what is never answered.
Each case on both OCPP versions."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from ocpp_fakes import FakeTransport, MemoryStore

from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.ocpp.errors import ErrorCode, InvalidAnswer, OcppCallError
from chargegrid.ocpp.limits import bounded
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, CHARGER_ACTIONS_201, schemas
from chargegrid.ocpp.times import parse_timestamp
from chargegrid.ocpp.v16.central_system import CentralSystem16
from chargegrid.ocpp.v16.meter_values import parse_meter_values as parse_meter_values_16
from chargegrid.ocpp.v201.central_system import CentralSystem201
from chargegrid.ocpp.v201.meter_values import parse_meter_values as parse_meter_values_201
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import EventLog, MeterWrite
from chargegrid.services.group_commit import GroupCommitWriter

VERSIONS = ("v16", "v201")
ACTIONS = {"v16": CHARGER_ACTIONS_16, "v201": CHARGER_ACTIONS_201}
HEARTBEAT_ANSWER = {"currentTime": "2026-01-01T00:00:00.000Z"}


async def heartbeat(_: Payload) -> Payload:
    return HEARTBEAT_ANSWER


@pytest.fixture(params=VERSIONS)
async def wired(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[FakeTransport, OcppConnection]]:
    version: str = request.param
    transport = FakeTransport()
    connection = OcppConnection(
        transport, {"Heartbeat": heartbeat}, schemas(version), ACTIONS[version], "CP1"
    )
    task = asyncio.create_task(connection.serve())
    yield transport, connection
    await transport.close()
    await task


async def nothing_sent(transport: FakeTransport) -> bool:
    """True if the connection sent nothing for what was pushed (a Heartbeat after it is
    answered first: frames are handled in order)."""
    transport.push([2, "probe", "Heartbeat", {}])
    answer = await transport.next_sent()
    return bool(answer == [3, "probe", HEARTBEAT_ANSWER])


# -- 4. frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        [3, "r1"],  # two elements
        [3],
        [4, "r2", "InternalError"],
        [4, "r3", "InternalError", "x", {}, "extra"],
        [3, "r4", {}, "extra"],
        [3, "r5", []],
        [4, "r6", 5, "x", {}],
        [3, 17, {}],  # not a string id
        [3, "x" * 40, {}],
        [3.0, "r7", {}],
        [4.0, "r8", "InternalError", "x", {}],
        b'[3, "r9", {"cut": ',  # not JSON, but a reply
        b"[4,",
    ],
)
async def test_broken_replies_are_never_answered(
    wired: tuple[FakeTransport, OcppConnection], frame: Any
) -> None:
    transport, _ = wired
    transport.push(frame)
    assert await nothing_sent(transport)


async def test_broken_reply_settles_the_pending_call_as_invalid(
    wired: tuple[FakeTransport, OcppConnection],
) -> None:
    transport, connection = wired
    future = await connection.start_call(
        "Reset", {"type": "Hard"} if connection.schemas.version == "v16" else {"type": "Immediate"}
    )
    sent = await transport.next_sent()
    transport.push([3, sent[1]])  # two elements
    with pytest.raises(InvalidAnswer):
        await asyncio.wait_for(future, 2)
    assert await nothing_sent(transport)


@pytest.mark.parametrize("kind", [2.0, True, "2", None, [2]])
async def test_a_message_type_that_is_not_the_integer_2_is_no_call(
    wired: tuple[FakeTransport, OcppConnection], kind: Any
) -> None:
    transport, connection = wired
    transport.push([kind, "m1", "Heartbeat", {}])
    error = await transport.next_sent()
    expected = (
        "MessageTypeNotSupported" if connection.schemas.version == "v201" else "ProtocolError"
    )
    assert error[:3] == [4, "m1", expected]
    assert await nothing_sent(transport)


# -- a charger's connection to the handlers, schemas included ----------------------------

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-03-01T11:00:00Z"


@dataclass
class Station:
    transport: FakeTransport
    store: MemoryStore
    version: str

    async def send(self, action: str, payload: Payload, unique_id: str = "c1") -> Any:
        self.transport.push([2, unique_id, action, payload])
        return await self.transport.next_sent()

    def writes(self) -> list[Any]:
        return [w for batch in self.store.batches for w in batch]


@pytest.fixture(params=VERSIONS)
async def station(request: pytest.FixtureRequest) -> AsyncIterator[Station]:
    version: str = request.param
    store = MemoryStore()
    writer = GroupCommitWriter(store)
    writer.start()
    messages = ChargerMessages(store, writer, EventLog(), clock=lambda: NOW)
    record = await messages.identify("CP1")
    assert record is not None
    kind = CentralSystem16 if version == "v16" else CentralSystem201
    handlers = kind(record, messages).handlers()
    transport = FakeTransport()
    connection = OcppConnection(transport, handlers, schemas(version), ACTIONS[version], "CP1")
    task = asyncio.create_task(connection.serve())
    yield Station(transport, store, version)
    await transport.close()
    await task
    await writer.stop()


def refused(answer: Any, field: str) -> bool:
    """A PropertyConstraintViolation naming ``field`` (in its details and its words)."""
    return bool(
        answer[0] == 4
        and answer[2] == "PropertyConstraintViolation"
        and answer[4] == {"field": field}
        and field in answer[3]
    )


def meter_value_16(value: str, unit: str | None = None, at: str = STAMP) -> dict[str, Any]:
    sampled: dict[str, Any] = {"value": value}
    if unit is not None:
        sampled["unit"] = unit
    return {"timestamp": at, "sampledValue": [sampled]}


def meter_value_201(value: float, unit: dict[str, Any] | None = None, at: str = STAMP) -> Payload:
    sampled: dict[str, Any] = {"value": value}
    if unit is not None:
        sampled["unitOfMeasure"] = unit
    return {"timestamp": at, "sampledValue": [sampled]}


def meter_message(version: str, meter_value: Payload) -> tuple[str, Payload]:
    if version == "v16":
        return "MeterValues", {"connectorId": 1, "meterValue": [meter_value]}
    return "MeterValues", {"evseId": 1, "meterValue": [meter_value]}


async def still_stores_a_good_reading(station: Station) -> None:
    """After a refused message: nothing of it was kept, and the next one is."""
    assert station.writes() == []
    good = meter_value_16("1500", "Wh") if station.version == "v16" else meter_value_201(1500.0)
    action, payload = meter_message(station.version, good)
    assert await station.send(action, payload, "good") == [3, "good", {}]
    (write,) = station.writes()
    assert isinstance(write, MeterWrite) and write.samples[0].value == 1500.0


# -- 1. NaN and Infinity -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        ("NaN", None),
        ("nan", None),
        ("Infinity", None),
        ("-Infinity", None),
        ("inf", None),
        ("1e309", None),
        ("-1e309", None),
        ("1e308", "kWh"),  # finite as sent, not once in Wh
    ],
)
def test_v16_sampled_values_must_be_finite(value: str, unit: str | None) -> None:
    with pytest.raises(OcppCallError) as err:
        parse_meter_values_16([meter_value_16(value, unit)])
    assert err.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert err.value.details == {"field": "sampledValue.value"}


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (math.nan, None),  # what another JSON parser would hand over
        (math.inf, None),
        (-math.inf, None),
        (1e308, {"unit": "kWh"}),
        (1e308, {"unit": "Wh", "multiplier": 3}),
        (1.0, {"unit": "Wh", "multiplier": 400}),  # 10.0 ** 400 overflows
        (1.0, {"unit": "Wh", "multiplier": 1e30}),  # an "integer" to the schema
    ],
)
def test_v201_sampled_values_must_be_finite_once_scaled(
    value: float, unit: dict[str, Any] | None
) -> None:
    with pytest.raises(OcppCallError) as err:
        parse_meter_values_201([meter_value_201(value, unit)])
    assert err.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert err.value.details == {"field": "sampledValue.value"}


def test_orjson_refuses_what_is_infinite_as_a_double() -> None:
    """2.0.1 values are JSON numbers: 1e309 and NaN never reach the parser (the frame
    is not JSON to orjson: a FormationViolation)."""
    for text in (b"[1e309]", b"[-1e309]", b"[NaN]", b"[Infinity]"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)


def test_finite_values_still_scale() -> None:
    (sample,) = parse_meter_values_201([meter_value_201(2.0, {"unit": "Wh", "multiplier": -400})])
    assert sample.value == 0.0
    (sample,) = parse_meter_values_16([meter_value_16("1e300", "kWh")])
    assert sample.value == 1e303


# 2.0.1: what survives orjson but not scaling (see the test above).
NOT_FINITE_201: dict[str, tuple[float, dict[str, Any]]] = {
    "NaN": (1.0, {"multiplier": 400}),
    "Infinity": (1e308, {"unit": "kWh"}),
    "1e309": (1e305, {"unit": "Wh", "multiplier": 4}),
}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e309"])
async def test_non_finite_meter_values_are_refused_on_the_wire(
    station: Station, value: str
) -> None:
    bad = (
        meter_value_16(value)
        if station.version == "v16"
        else meter_value_201(*NOT_FINITE_201[value])
    )
    action, payload = meter_message(station.version, bad)
    assert refused(await station.send(action, payload), "sampledValue.value")
    await still_stores_a_good_reading(station)


async def test_non_finite_transaction_data_is_refused(station: Station) -> None:
    if station.version == "v16":
        action = "StopTransaction"
        payload: Payload = {
            "transactionId": 1,
            "meterStop": 10,
            "timestamp": STAMP,
            "transactionData": [meter_value_16("NaN")],
        }
    else:
        action, payload = (
            "TransactionEvent",
            transaction_event(meterValue=[meter_value_201(1e308, {"unit": "kWh"})]),
        )
    assert refused(await station.send(action, payload), "sampledValue.value")
    await still_stores_a_good_reading(station)


def transaction_event(**fields: Any) -> Payload:
    payload: Payload = {
        "eventType": "Updated",
        "timestamp": STAMP,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-1"},
        "evse": {"id": 1, "connectorId": 1},
    }
    payload.update(fields)
    return payload


# -- 2. timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-12:00",  # after 9999 in UTC
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
    ],
)
def test_timestamps_outside_the_window_are_refused(text: str) -> None:
    with pytest.raises(OcppCallError) as err:
        parse_timestamp(text, "meterValue.timestamp")
    assert err.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert err.value.details == {"field": "meterValue.timestamp"}


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2000-01-01T00:00:00Z", datetime(2000, 1, 1, tzinfo=UTC)),
        ("2099-12-31T23:59:59-12:00", datetime(2100, 1, 1, 11, 59, 59, tzinfo=UTC)),
        ("2026-03-01T11:00:00", datetime(2026, 3, 1, 11, tzinfo=UTC)),  # naive: UTC
    ],
)
def test_timestamps_inside_the_window_are_taken(text: str, utc: datetime) -> None:
    assert parse_timestamp(text) == utc


EDGE = "0001-01-01T00:00:00+14:00"
LATE = "9999-12-31T23:59:59-12:00"


def timestamp_cases(version: str) -> list[tuple[str, Payload, str]]:
    """Every timestamp a charger sends that is stored: (action, payload, field)."""
    if version == "v16":
        return [
            (
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "Available",
                    "timestamp": EDGE,
                },
                "timestamp",
            ),
            (
                "StartTransaction",
                {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": LATE},
                "timestamp",
            ),
            (
                "StopTransaction",
                {"transactionId": 1, "meterStop": 5, "timestamp": EDGE},
                "timestamp",
            ),
            (
                "StopTransaction",
                {
                    "transactionId": 1,
                    "meterStop": 5,
                    "timestamp": STAMP,
                    "transactionData": [meter_value_16("5", at=LATE)],
                },
                "meterValue.timestamp",
            ),
            (*meter_message("v16", meter_value_16("5", at=EDGE)), "meterValue.timestamp"),
        ]
    return [
        (
            "StatusNotification",
            {"timestamp": LATE, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
            "timestamp",
        ),
        ("TransactionEvent", transaction_event(timestamp=EDGE), "timestamp"),
        (
            "TransactionEvent",
            transaction_event(meterValue=[meter_value_201(5.0, at=LATE)]),
            "meterValue.timestamp",
        ),
        (*meter_message("v201", meter_value_201(5.0, at=EDGE)), "meterValue.timestamp"),
        (
            "NotifyEVChargingNeeds",
            {
                "evseId": 1,
                "chargingNeeds": {
                    "requestedEnergyTransfer": "AC_three_phase",
                    "departureTime": LATE,
                },
            },
            "departureTime",
        ),
    ]


async def test_every_stored_timestamp_is_checked(station: Station) -> None:
    for n, (action, payload, field) in enumerate(timestamp_cases(station.version)):
        answer = await station.send(action, payload, f"t{n}")
        assert refused(answer, field), (action, answer)
    await still_stores_a_good_reading(station)


# -- 3. integer ranges -------------------------------------------------------------------

BIG = 2**31
HUGE = 2**63


def integer_cases(version: str) -> list[tuple[str, Payload, str]]:
    """Every integer a charger sends that is stored or looked up: (action, payload, field)."""
    if version == "v16":
        status = {"errorCode": "NoError", "status": "Available"}
        start = {"idTag": "T", "meterStart": 0, "timestamp": STAMP}
        stop = {"meterStop": 5, "timestamp": STAMP}
        return [
            ("StatusNotification", {**status, "connectorId": BIG}, "connectorId"),
            ("StatusNotification", {**status, "connectorId": -1}, "connectorId"),
            ("StartTransaction", {**start, "connectorId": BIG}, "connectorId"),
            ("StartTransaction", {**start, "connectorId": 0}, "connectorId"),
            (
                "StartTransaction",
                {**start, "connectorId": 1, "reservationId": BIG},
                "reservationId",
            ),
            ("StopTransaction", {**stop, "transactionId": HUGE}, "transactionId"),
            (
                "MeterValues",
                {"connectorId": BIG, "meterValue": [meter_value_16("1")]},
                "connectorId",
            ),
            (
                "MeterValues",
                {"connectorId": 1, "transactionId": HUGE, "meterValue": [meter_value_16("1")]},
                "transactionId",
            ),
        ]
    status = {"timestamp": STAMP, "connectorStatus": "Available"}
    limit_schedule = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    }
    return [
        ("StatusNotification", {**status, "evseId": BIG, "connectorId": 1}, "evseId"),
        ("StatusNotification", {**status, "evseId": -(10**18), "connectorId": 1}, "evseId"),
        ("StatusNotification", {**status, "evseId": 1, "connectorId": BIG}, "connectorId"),
        ("TransactionEvent", transaction_event(seqNo=BIG), "seqNo"),
        ("TransactionEvent", transaction_event(seqNo=-1), "seqNo"),
        ("TransactionEvent", transaction_event(evse={"id": BIG}), "evse.id"),
        (
            "TransactionEvent",
            transaction_event(evse={"id": 1, "connectorId": -5}),
            "evse.connectorId",
        ),
        (
            "TransactionEvent",
            transaction_event(transactionInfo={"transactionId": "t", "remoteStartId": BIG}),
            "transactionInfo.remoteStartId",
        ),
        ("MeterValues", {"evseId": BIG, "meterValue": [meter_value_201(1.0)]}, "evseId"),
        (
            "NotifyEVChargingNeeds",
            {"evseId": BIG, "chargingNeeds": {"requestedEnergyTransfer": "DC"}},
            "evseId",
        ),
        (
            "NotifyChargingLimit",
            {"evseId": BIG, "chargingLimit": {"chargingLimitSource": "EMS"}},
            "evseId",
        ),
        (
            "NotifyChargingLimit",
            {
                "evseId": 1,
                "chargingLimit": {"chargingLimitSource": "EMS"},
                "chargingSchedule": [
                    {
                        **limit_schedule,
                        "chargingSchedulePeriod": [
                            {"startPeriod": 0, "limit": 11000.0, "numberPhases": 0}
                        ],
                    }
                ],
            },
            "chargingSchedulePeriod.numberPhases",
        ),
        ("ClearedChargingLimit", {"evseId": -1, "chargingLimitSource": "EMS"}, "evseId"),
        (
            "NotifyReport",
            {
                "requestId": 1,
                "generatedAt": STAMP,
                "seqNo": 0,
                "reportData": [
                    {
                        "component": {"name": "EVSE", "evse": {"id": BIG}},
                        "variable": {"name": "Available"},
                        "variableAttribute": [{"value": "true"}],
                    }
                ],
            },
            "component.evse.id",
        ),
    ]


async def test_integers_out_of_the_stores_range_are_refused(station: Station) -> None:
    for n, (action, payload, field) in enumerate(integer_cases(station.version)):
        answer = await station.send(action, payload, f"i{n}")
        assert refused(answer, field), (action, payload, answer)
    await still_stores_a_good_reading(station)


@pytest.mark.parametrize(
    ("value", "start", "end", "expected"),
    [
        (0, 0, BIG, 0),
        (BIG - 1, 0, BIG, BIG - 1),
        (2.0, 0, BIG, 2),  # JSON Schema's integer
        (-(2**31), -(2**31), BIG, -(2**31)),
        (HUGE - 1, -HUGE, HUGE, HUGE - 1),
    ],
)
def test_bounded_takes_what_the_store_holds(
    value: Any, start: int, end: int, expected: int
) -> None:
    got = bounded(value, "x", start, end)
    assert got == expected and type(got) is int


@pytest.mark.parametrize("value", [BIG, -1, 2.5, True, None, "1", math.inf, math.nan, 1e23])
def test_bounded_refuses_the_rest(value: Any) -> None:
    with pytest.raises(OcppCallError) as err:
        bounded(value, "connectorId")
    assert err.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert err.value.details == {"field": "connectorId"}
