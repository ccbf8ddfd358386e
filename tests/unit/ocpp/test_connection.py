"""The protocol engine on a fake transport: bad frames, routing, our own calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp_fakes import FakeTransport

from chargegrid.domain.errors import ChargerTimeout, Conflict, InvalidValue
from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.ocpp.errors import CallErrorReceived, InvalidAnswer
from chargegrid.ocpp.frames import MAX_FRAME_BYTES
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, schemas

HEARTBEAT_ANSWER = {"currentTime": "2026-01-01T00:00:00.000Z"}


async def heartbeat(_: Payload) -> Payload:
    return HEARTBEAT_ANSWER


async def failing(_: Payload) -> Payload:
    raise RuntimeError("boom")


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeTransport, OcppConnection]]:
    transport = FakeTransport()
    handlers = {"Heartbeat": heartbeat, "Authorize": failing}
    connection = OcppConnection(transport, handlers, schemas(), CHARGER_ACTIONS_16, "CP1")
    task = asyncio.create_task(connection.serve())
    yield transport, connection
    await transport.close()
    await task


async def answer_to(transport: FakeTransport, frame: bytes | str | list[Any]) -> Any:
    transport.push(frame)
    return await transport.next_sent()


@pytest.mark.parametrize(
    ("frame", "code", "unique_id"),
    [
        (b"not json at all", "FormationViolation", "-1"),
        (b'[2, "a1", "Heartbeat", {}', "FormationViolation", "a1"),  # cut short
        (b'{"hello": 1}', "ProtocolError", "-1"),
        ([2, "a2", "Heartbeat"], "ProtocolError", "a2"),
        ([2, "a3", "Heartbeat", []], "FormationViolation", "a3"),
        ([7, "a4", "Heartbeat", {}], "ProtocolError", "a4"),
        ([2, "a5", "FlyToTheMoon", {}], "NotImplemented", "a5"),
        ([2, "a6", "Reset", {"type": "Hard"}], "NotSupported", "a6"),  # a CSMS-only action
        ([2, "a7", "StatusNotification", {"connectorId": 1}], "NotSupported", "a7"),
        ([2, "a8", "Authorize", {"idTag": "x"}], "InternalError", "a8"),
    ],
)
async def test_bad_frames_get_call_errors_and_the_connection_survives(
    wired: tuple[FakeTransport, OcppConnection], frame: Any, code: str, unique_id: str
) -> None:
    transport, _ = wired
    error = await answer_to(transport, frame)
    assert error[:3] == [4, unique_id, code]
    assert await answer_to(transport, [2, "ok", "Heartbeat", {}]) == [3, "ok", HEARTBEAT_ANSWER]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"idTag": 5}, "TypeConstraintViolation"),
        ({}, "OccurenceConstraintViolation"),
        ({"idTag": "x" * 21}, "PropertyConstraintViolation"),
        ({"idTag": "x", "extra": 1}, "FormationViolation"),
    ],
)
async def test_schema_violations_name_the_ocpp_error_class(
    payload: dict[str, Any], code: str
) -> None:
    transport = FakeTransport()
    handlers = {"Authorize": heartbeat}
    connection = OcppConnection(transport, handlers, schemas(), CHARGER_ACTIONS_16)
    task = asyncio.create_task(connection.serve())
    try:
        error = await answer_to(transport, [2, "v", "Authorize", payload])
        assert error[:3] == [4, "v", code]
    finally:
        await transport.close()
        await task


async def test_oversize_frame_is_refused_with_its_id(
    wired: tuple[FakeTransport, OcppConnection],
) -> None:
    transport, _ = wired
    padding = "x" * MAX_FRAME_BYTES
    big = f'[2, "big1", "DataTransfer", {{"vendorId": "v", "data": "{padding}"}}]'
    error = await answer_to(transport, big)
    assert error[:3] == [4, "big1", "FormationViolation"]
    assert await answer_to(transport, [2, "ok", "Heartbeat", {}]) == [3, "ok", HEARTBEAT_ANSWER]


async def test_our_call_gets_its_answer_validated(
    wired: tuple[FakeTransport, OcppConnection],
) -> None:
    transport, connection = wired
    pending = asyncio.create_task(connection.call("Reset", {"type": "Soft"}, 2))
    sent = await transport.next_sent()
    assert sent[0] == 2 and sent[2:] == ["Reset", {"type": "Soft"}]
    transport.push([3, sent[1], {"status": "Accepted"}])
    assert await pending == {"status": "Accepted"}

    pending = asyncio.create_task(connection.call("Reset", {"type": "Soft"}, 2))
    sent = await transport.next_sent()
    transport.push([3, sent[1], {"status": "Maybe"}])
    with pytest.raises(InvalidAnswer):
        await pending

    pending = asyncio.create_task(connection.call("Reset", {"type": "Soft"}, 2))
    sent = await transport.next_sent()
    transport.push([4, sent[1], "InternalError", "busy", {}])
    with pytest.raises(CallErrorReceived) as err:
        await pending
    assert err.value.code == "InternalError"


async def test_gateway_maps_offline_timeout_and_bad_payloads(
    wired: tuple[FakeTransport, OcppConnection],
) -> None:
    transport, connection = wired
    gateway = CommandGateway()
    with pytest.raises(Conflict):
        await gateway.send("CP1", "Reset", {"type": "Soft"}, 1)
    gateway.attach("CP1", connection, ready=True)
    with pytest.raises(ChargerTimeout):
        await gateway.send("CP1", "Reset", {"type": "Soft"}, 0.05)
    await transport.next_sent()  # the unanswered Reset
    with pytest.raises(InvalidValue) as err:
        await gateway.send("CP1", "Reset", {"type": "Sideways"}, 1)
    assert err.value.errors[0].field == "type"
    assert transport.sent.empty()  # nothing invalid went out

    pending = asyncio.create_task(gateway.send("CP1", "Reset", {"type": "Hard"}, 5))
    await transport.next_sent()
    await transport.close()  # the charger goes away while we wait
    with pytest.raises(Conflict):
        await pending
