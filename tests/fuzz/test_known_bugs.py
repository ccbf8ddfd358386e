"""What the fuzzer found, as the smallest frame sequence that shows it. A bug still open
in a file another engineer owns is ``xfail(strict=True)`` (so it fails the suite the day
it is fixed) and left out of the random run; once fixed, the mark goes, the test stays
as a regression test and the generator sends that case again."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import websockets
from sqlalchemy import func, select, update

from chargegrid.store.charger_store import chargers
from chargegrid.store.ocpp_tables import meter_messages
from tests.fuzz.harness import fuzz_stack

pytestmark = pytest.mark.e2e
STAMP = "2026-03-01T10:00:00Z"


async def call(ws: Any, unique_id: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(orjson.dumps([2, unique_id, action, payload]))
    while True:  # the server's own CALLs (the post-boot exchange) stay unanswered
        frame: list[Any] = orjson.loads(await ws.recv())
        if frame[0] != 2:
            assert frame[1] == unique_id, frame
            return frame


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_resent_reading_outside_a_transaction_is_stored_once(
    database_url: str, version: str
) -> None:
    if version == "ocpp1.6":
        sampled: dict[str, Any] = {"value": "1200", "unit": "Wh"}
        payload: dict[str, Any] = {"connectorId": 1}
    else:
        sampled = {"value": 1200, "unitOfMeasure": {"unit": "Wh"}}
        payload = {"evseId": 1}
    payload["meterValue"] = [{"timestamp": STAMP, "sampledValue": [sampled]}]
    async with fuzz_stack(database_url) as stack:
        site = await stack.ok("POST", "/sites", {"name": "S", "max_current": 63})
        await stack.ok("POST", "/chargers", {"ocpp_id": "RESEND", "site_id": site["id"]})
        async with stack.runtime.db.engine.begin() as conn:
            await conn.execute(update(chargers).values(config_sync="applied"))
        url = f"ws://127.0.0.1:{stack.port}/ocpp/RESEND"
        async with websockets.connect(url, subprotocols=[version]) as ws:
            # The answer to the first was lost: the charger sends the same message again.
            assert (await call(ws, "m1", "MeterValues", payload))[0] == 3
            assert (await call(ws, "m1", "MeterValues", payload))[0] == 3
        async with stack.runtime.db.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(meter_messages))).scalar()
    assert stored == 1
