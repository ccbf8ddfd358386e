"""Bad frames on a 2.0.1 socket get 2.0.1's CallErrors (OCPP-J 2.0.1 §4.3), in 2.0.1's
spelling, and the connection goes on; the same frames on 1.6 keep 1.6's words."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import websockets

from tests.e2e.conftest import Csms

pytestmark = pytest.mark.e2e

BAD: list[tuple[Any, str, str]] = [
    (b"{not json", "FormatViolation", "FormationViolation"),
    ([2, "a1", "Heartbeat"], "RpcFrameworkError", "ProtocolError"),
    ([9, "a2", "Heartbeat", {}], "MessageTypeNotSupported", "ProtocolError"),
    ([2, "a3", "FooBar", {}], "NotImplemented", "NotImplemented"),
    ([2, "a4", "Reset", {"type": "Immediate"}], "NotSupported", "NotSupported"),
]
# 2.0.1 BootNotification payloads that break its schema.
BOOTS: list[tuple[dict[str, Any], str]] = [
    ({"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
    (
        {"reason": 5, "chargingStation": {"model": "M", "vendorName": "V"}},
        "TypeConstraintViolation",
    ),
    (
        {"reason": "Sunday", "chargingStation": {"model": "M", "vendorName": "V"}},
        "PropertyConstraintViolation",
    ),
]


async def answer(ws: Any, frame: Any) -> list[Any]:
    await ws.send(frame if isinstance(frame, bytes) else orjson.dumps(frame))
    reply: list[Any] = orjson.loads(await ws.recv())
    return reply


async def test_bad_frames_get_each_versions_call_errors(csms: Csms) -> None:
    await csms.add_charger("BAD201")
    for version, column in (("ocpp2.0.1", 1), ("ocpp1.6", 2)):
        async with websockets.connect(csms.url("BAD201"), subprotocols=[version]) as ws:
            for frame, *codes in BAD:
                reply = await answer(ws, frame)
                assert reply[0] == 4 and reply[2] == codes[column - 1], (version, frame, reply)
            if version == "ocpp2.0.1":
                for n, (payload, code) in enumerate(BOOTS):
                    reply = await answer(ws, [2, f"b{n}", "BootNotification", payload])
                    assert reply[:3] == [4, f"b{n}", code], reply
            # Still open and answering.
            boot = (
                {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
                if version == "ocpp2.0.1"
                else {"chargePointModel": "M", "chargePointVendor": "V"}
            )
            reply = await answer(ws, [2, "ok", "BootNotification", boot])
            assert reply[0] == 3 and reply[2]["status"] == "Accepted"
