"""Input hardening over a real socket, both versions (issue 13, part 2): broken replies
get no answer, a float message type is no CALL, and non-finite readings, timestamps at
the edges of the calendar and integers the store cannot hold get a
PropertyConstraintViolation naming the field; the connection goes on, and only what
was acknowledged is stored."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
import websockets
from sqlalchemy import select

from chargegrid.store.charger_store import connectors, evses
from chargegrid.store.meter_messages import decode_samples
from chargegrid.store.ocpp_tables import meter_messages
from tests.e2e.conftest import Csms, eventually

pytestmark = pytest.mark.e2e

STAMP = "2026-03-01T11:00:00Z"
EDGE = "0001-01-01T00:00:00+14:00"
LATE = "9999-12-31T23:59:59-12:00"


async def reply_to(ws: Any, unique_id: str) -> list[Any]:
    """The next answer to ``unique_id``; CALLs of the central system's own (the
    post-boot exchange) are left unanswered."""
    while True:
        frame: list[Any] = orjson.loads(await ws.recv())
        if frame[0] != 2:
            assert frame[1] == unique_id, frame  # nothing answered in between
            return frame


async def call(ws: Any, unique_id: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(orjson.dumps([2, unique_id, action, payload]))
    return await reply_to(ws, unique_id)


def bad_calls(version: str) -> list[tuple[str, dict[str, Any], str]]:
    """(action, payload, the field the CallError names)."""
    if version == "ocpp1.6":
        status = {"errorCode": "NoError", "status": "Available"}
        return [
            (
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": STAMP, "sampledValue": [{"value": v}]}],
                },
                "sampledValue.value",
            )
            for v in ("NaN", "Infinity", "-Infinity", "1e309")
        ] + [
            (
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": EDGE, "sampledValue": [{"value": "1"}]}],
                },
                "meterValue.timestamp",
            ),
            ("StatusNotification", {**status, "connectorId": 1, "timestamp": LATE}, "timestamp"),
            ("StatusNotification", {**status, "connectorId": 2**31}, "connectorId"),
            (
                "StartTransaction",
                {"connectorId": 2**31, "idTag": "T", "meterStart": 0, "timestamp": STAMP},
                "connectorId",
            ),
            (
                "StopTransaction",
                {"transactionId": 2**63, "meterStop": 1, "timestamp": STAMP},
                "transactionId",
            ),
        ]
    tx = {
        "eventType": "Started",
        "timestamp": STAMP,
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1"},
        "evse": {"id": 1, "connectorId": 1},
    }
    reading = {
        "timestamp": STAMP,
        "sampledValue": [{"value": 1e308, "unitOfMeasure": {"unit": "kWh"}}],
    }
    return [
        ("MeterValues", {"evseId": 1, "meterValue": [reading]}, "sampledValue.value"),
        ("TransactionEvent", {**tx, "meterValue": [reading]}, "sampledValue.value"),
        ("TransactionEvent", {**tx, "timestamp": EDGE}, "timestamp"),
        (
            "StatusNotification",
            {"timestamp": LATE, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
            "timestamp",
        ),
        (
            "StatusNotification",
            {
                "timestamp": STAMP,
                "connectorStatus": "Available",
                "evseId": -(10**18),
                "connectorId": 1,
            },
            "evseId",
        ),
        ("TransactionEvent", {**tx, "seqNo": 2**31}, "seqNo"),
        ("TransactionEvent", {**tx, "evse": {"id": 2**31}}, "evse.id"),
    ]


def good_reading(version: str) -> dict[str, Any]:
    if version == "ocpp1.6":
        sampled = {"value": "1.5", "unit": "kWh"}
        return {"connectorId": 1, "meterValue": [{"timestamp": STAMP, "sampledValue": [sampled]}]}
    sampled201 = {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}}
    return {"evseId": 1, "meterValue": [{"timestamp": STAMP, "sampledValue": [sampled201]}]}


async def test_hostile_input_is_refused_field_by_field_and_nothing_else_is_lost(
    csms: Csms,
) -> None:
    for version in ("ocpp1.6", "ocpp2.0.1"):
        ocpp_id = f"HARD-{version}"
        await csms.add_charger(ocpp_id, config_sync="applied")
        async with websockets.connect(csms.url(ocpp_id), subprotocols=[version]) as ws:
            # A broken CALLRESULT and CALLERROR: never answered (the Heartbeat's answer
            # is the next frame).
            for broken in ([3, "r1"], [4, "r2", "InternalError"], [3.0, "r3", {}]):
                await ws.send(orjson.dumps(broken))
            beat = await call(ws, "hb1", "Heartbeat", {})
            assert beat[0] == 3, beat
            # 2.0 is no CALL.
            await ws.send(orjson.dumps([2.0, "f1", "Heartbeat", {}]))
            expected = "ProtocolError" if version == "ocpp1.6" else "MessageTypeNotSupported"
            assert (await reply_to(ws, "f1"))[:3] == [4, "f1", expected]
            for n, (action, payload, field) in enumerate(bad_calls(version)):
                answer = await call(ws, f"b{n}", action, payload)
                assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation", answer
                assert answer[4] == {"field": field}, answer
            # The connection goes on, and a good reading is kept.
            assert (await call(ws, "ok", "MeterValues", good_reading(version)))[:3] == [3, "ok", {}]

    async def both_readings_stored() -> bool:
        return len(await csms.rows(select(meter_messages.c.samples))) == 2

    await eventually(both_readings_stored, what="the two good readings")
    rows = await csms.rows(select(meter_messages.c.samples))
    values = [s.value for row in rows for s in decode_samples(row.samples)]
    assert values == [1500.0, 1500.0]
    assert all(math.isfinite(v) for v in values)
    numbers = [r.evse_number for r in await csms.rows(select(evses.c.evse_number))]
    numbers += [r.connector_id for r in await csms.rows(select(connectors.c.connector_id))]
    assert all(0 <= n < 2**31 for n in numbers), numbers
