"""Input hardening (issue 13, part 2): what a fuzzer sent that once made the server
answer InternalError, store what it cannot read back, or answer what is never answered.
Each case on both OCPP versions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp_fakes import FakeTransport

from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.ocpp.errors import InvalidAnswer
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, CHARGER_ACTIONS_201, schemas

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
