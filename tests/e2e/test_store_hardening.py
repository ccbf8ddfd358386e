"""Store hardening end to end (issue 13, part 2): a charger deleted while connected."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
import websockets
from sqlalchemy import delete, select

from chargegrid.ocpp.component import follow_config_changes
from chargegrid.services.auth import Principal, Role
from chargegrid.services.configure.chargers import delete_charger
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.charger_store import chargers, connectors
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import Csms

pytestmark = pytest.mark.e2e
NOW = "2026-03-01T10:00:00Z"


async def exchange(ws: websockets.ClientConnection, action: str, payload: object) -> list[object]:
    unique_id = uuid.uuid4().hex[:8]
    await ws.send(orjson.dumps([2, unique_id, action, payload]))
    while True:  # skip the server's own CALLs (none expected: config_sync applied)
        answer: list[object] = orjson.loads(await ws.recv())
        if answer[1] == unique_id:
            return answer


@contextlib.asynccontextmanager
async def following(csms: Csms) -> AsyncIterator[None]:
    """What the OCPP component does beside the listener: act on config.changed."""
    task = asyncio.create_task(
        follow_config_changes(csms.bus, csms.central.store, csms.central)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)  # subscribed
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def charger_id(csms: Csms, ocpp_id: str) -> uuid.UUID:
    (row,) = await csms.rows(select(chargers.c.id).where(chargers.c.ocpp_id == ocpp_id))
    return uuid.UUID(str(row.id))


async def test_a_deleted_charger_is_disconnected_refused_and_can_come_back(
    csms_on_each_db: Csms,
) -> None:
    csms = csms_on_each_db
    await csms.add_charger("GONE-1", config_sync="applied")
    await csms.add_charger("GONE-2", config_sync="applied")
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    meter = {
        "connectorId": 1,
        "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "10"}]}],
    }
    # Deleted behind the server's back (no event): whatever it sends is refused.
    async with websockets.connect(csms.url("GONE-2"), subprotocols=["ocpp1.6"]) as ws:
        assert (await exchange(ws, "StatusNotification", status))[0] == 3
        async with csms.db.engine.begin() as conn:
            await conn.execute(delete(chargers).where(chargers.c.ocpp_id == "GONE-2"))
        for action, payload in (
            ("Heartbeat", {}),
            ("StatusNotification", status),
            ("MeterValues", meter),
            ("DataTransfer", {"vendorId": "v"}),
            (
                "StartTransaction",
                {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": NOW},
            ),
            ("StopTransaction", {"transactionId": 1, "meterStop": 5, "timestamp": NOW}),
        ):
            answer = await exchange(ws, action, payload)
            assert answer[0] == 4 and answer[2] == "SecurityError", (action, answer)
            assert "no longer exists" in str(answer[3])

    # Deleted through the API: its socket is closed.
    async with following(csms):
        async with websockets.connect(csms.url("GONE-1"), subprotocols=["ocpp1.6"]) as ws:
            assert (await exchange(ws, "Heartbeat", {}))[0] == 3
            old_id = await charger_id(csms, "GONE-1")
            async with UnitOfWork(csms.db) as uow:
                await delete_charger(ConfigContext(uow, csms.bus, Principal(Role.ADMIN)), old_id)
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(5):
                    await ws.recv()
        # Created again with the same ocpp_id: a new connection, its own rows.
        await csms.add_charger("GONE-1", config_sync="applied")
        new_id = await charger_id(csms, "GONE-1")
        async with websockets.connect(csms.url("GONE-1"), subprotocols=["ocpp1.6"]) as ws:
            assert (await exchange(ws, "StatusNotification", status))[0] == 3
        rows = await csms.rows(
            select(connectors.c.ocpp_status).where(connectors.c.charger_id == new_id)
        )
        assert [r.ocpp_status for r in rows] == ["Available"]
