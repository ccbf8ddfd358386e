"""Calls started without waiting (``OcppConnection.start_call``, ``CommandGateway.start``)
and the WebSocket transport's write-now path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from ocpp_fakes import FakeTransport
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from chargegrid.domain.errors import Conflict, InvalidValue
from chargegrid.ocpp.connection import OcppConnection, TransportClosed
from chargegrid.ocpp.errors import CallErrorReceived
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, schemas
from chargegrid.ocpp.transport import WebSocketTransport

SOFT = {"type": "Soft"}


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeTransport, OcppConnection, CommandGateway]]:
    transport = FakeTransport()
    connection = OcppConnection(transport, {}, schemas(), CHARGER_ACTIONS_16, "CP1")
    task = asyncio.create_task(connection.serve())
    gateway = CommandGateway()
    gateway.attach("CP1", connection, ready=True)
    yield transport, connection, gateway
    await transport.close()
    await task


async def test_started_calls_are_all_sent_before_any_answer(
    wired: tuple[FakeTransport, OcppConnection, CommandGateway],
) -> None:
    transport, connection, gateway = wired
    futures = [await gateway.start("CP1", "Reset", SOFT) for _ in range(3)]
    sent = [transport.sent.get_nowait() for _ in range(3)]  # already written, no waiting
    ids = [orjson.loads(frame)[1] for frame in sent]
    assert len(set(ids)) == 3 and not any(f.done() for f in futures)
    for unique_id in reversed(ids):  # answers in any order find their call
        transport.push([3, unique_id, {"status": "Accepted"}])
    assert await asyncio.gather(*futures) == [{"status": "Accepted"}] * 3
    transport.push([4, "x", "InternalError", "", {}])  # an unknown id is ignored
    failing = await gateway.start("CP1", "Reset", SOFT)
    transport.push([4, orjson.loads(await transport.sent.get())[1], "InternalError", "busy", {}])
    with pytest.raises(CallErrorReceived):
        await failing
    assert not connection._pending


async def test_giving_up_on_a_started_call_forgets_it(
    wired: tuple[FakeTransport, OcppConnection, CommandGateway],
) -> None:
    transport, connection, gateway = wired
    future = await gateway.start("CP1", "Reset", SOFT)
    unique_id = orjson.loads(await transport.sent.get())[1]
    assert unique_id in connection._pending
    future.cancel()
    for _ in range(100):  # the cancel reaches the connection within a loop turn or two
        if unique_id not in connection._pending:
            break
        await asyncio.sleep(0)
    assert unique_id not in connection._pending and future.cancelled()
    transport.push([3, unique_id, {"status": "Accepted"}])  # a late answer finds nothing
    # Frames are read in order: once the next call is answered, the late one was seen.
    following = await gateway.start("CP1", "Reset", SOFT)
    transport.push([3, orjson.loads(await transport.sent.get())[1], {"status": "Accepted"}])
    assert await following == {"status": "Accepted"}
    assert not connection._pending


async def test_start_raises_when_nothing_was_sent(
    wired: tuple[FakeTransport, OcppConnection, CommandGateway],
) -> None:
    transport, _, gateway = wired
    with pytest.raises(Conflict):
        await gateway.start("CP2", "Reset", SOFT)
    with pytest.raises(InvalidValue) as err:
        await gateway.start("CP1", "Reset", {"type": "Sideways"})
    assert err.value.errors[0].field == "type"
    assert transport.sent.empty()


async def test_a_connection_that_ends_fails_its_started_calls_as_offline(
    wired: tuple[FakeTransport, OcppConnection, CommandGateway],
) -> None:
    transport, connection, gateway = wired
    future = await gateway.start("CP1", "Reset", SOFT)
    await transport.close()
    with pytest.raises(Conflict):
        await future
    await connection.closed.wait()
    with pytest.raises(Conflict):
        await gateway.start("CP1", "Reset", SOFT)


async def test_send_now_writes_frames_in_order_and_declines_once_closed() -> None:
    accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        await accepted.put(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as client:
            transport = WebSocketTransport(await accepted.get())
            frames = [orjson.dumps([2, str(n), "Heartbeat", {}]) for n in range(20)]
            assert all(transport.send_now(frame) for frame in frames)
            received = [await asyncio.wait_for(client.recv(), 2) for _ in frames]
            assert received == [frame.decode() for frame in frames]  # text frames
            await transport.close()
            assert transport.send_now(frames[0]) is False
            with pytest.raises(TransportClosed):
                await transport.send(frames[0])
