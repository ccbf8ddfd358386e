"""Raw frames over a real socket: bad input gets CallErrors, auto-registration, subprotocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import websockets
from sqlalchemy import update

from chargegrid.store.charger_store import chargers
from tests.e2e.conftest import Csms, start_csms

pytestmark = pytest.mark.e2e


@pytest.fixture
async def open_csms(tmp_path: Path) -> AsyncIterator[Csms]:
    server = await start_csms(tmp_path, auto_register=True)
    try:
        yield server
    finally:
        await server.central.stop()
        await server.db.dispose()


async def exchange(ws: websockets.ClientConnection, frame: bytes | str) -> list[object]:
    await ws.send(frame)
    answer: list[object] = orjson.loads(await ws.recv())
    return answer


async def test_bad_frames_over_the_wire(csms: Csms) -> None:
    await csms.add_charger("WIRE-1", config_sync="applied")  # no post-connect sync CALLs
    async with websockets.connect(csms.url("WIRE-1"), subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        assert (await exchange(ws, "{{{"))[:3] == [4, "-1", "FormationViolation"]
        assert (await exchange(ws, '[2, "x1", "Nope", {}]'))[:3] == [4, "x1", "NotImplemented"]
        bad_status = '[2, "x2", "StatusNotification", {"connectorId": 1, "status": "Sleepy"}]'
        assert (await exchange(ws, bad_status))[:2] == [4, "x2"]
        huge = '[2, "x3", "DataTransfer", {"vendorId": "v", "data": "' + "y" * 200_000 + '"}]'
        assert (await exchange(ws, huge))[:3] == [4, "x3", "FormationViolation"]
        beat = await exchange(ws, '[2, "x4", "Heartbeat", {}]')
        assert beat[:2] == [3, "x4"]  # still connected, still answering


async def test_auto_registration_boots_pending_until_accepted(open_csms: Csms) -> None:
    boot = orjson.dumps(
        [2, "b1", "BootNotification", {"chargePointVendor": "New", "chargePointModel": "Box"}]
    )
    async with websockets.connect(open_csms.url("NEW-BOX"), subprotocols=["ocpp1.6"]) as ws:
        answer = await exchange(ws, boot)
        assert answer[:2] == [3, "b1"]
        assert answer[2]["status"] == "Pending"  # type: ignore[index]
        start = orjson.dumps(
            [
                2,
                "s1",
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "T",
                    "meterStart": 0,
                    "timestamp": "2026-01-01T00:00:00Z",
                },
            ]
        )
        assert (await exchange(ws, start))[:3] == [4, "s1", "SecurityError"]
        async with open_csms.db.engine.begin() as conn:
            await conn.execute(
                update(chargers)
                .where(chargers.c.ocpp_id == "NEW-BOX")
                .values(registration_status="Accepted")
            )
        answer = await exchange(ws, boot)
        assert answer[2]["status"] == "Accepted"  # type: ignore[index]
    row = await open_csms.charger_row("NEW-BOX")
    assert (row.vendor, row.model) == ("New", "Box")
