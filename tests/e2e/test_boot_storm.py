"""Many chargers booting at once (issue 11, rule 2), over real sockets: for every one,
nothing before its BootNotification is answered, its failsafe is the first call, a live
limit comes before its configuration is read, and no configuration call precedes the
failsafe. The order only: how fast is measured in ``bench/boot``."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.store import models as m
from tests.e2e.conftest import add_wired_charger, eventually, start_csms

pytestmark = pytest.mark.e2e

CHARGERS = 50
BOOT = {"chargePointVendor": "Acme", "chargePointModel": "Box"}
CONFIG_CALLS = frozenset({"GetConfiguration", "ChangeConfiguration"})


class Charger:
    """Answers every call at once and keeps, in order, what it received and when its
    boot was answered (``None`` in the log)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.log: list[tuple[str, dict[str, Any]] | None] = []
        self.boot_answer: asyncio.Future[dict[str, Any]] = asyncio.Future()

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                if frame[0] != 2:
                    self.log.append(None)
                    if not self.boot_answer.done():
                        self.boot_answer.set_result(frame[2] if frame[0] == 3 else {})
                    continue
                self.log.append((frame[2], frame[3]))
                answer: dict[str, Any] = {"status": "Accepted"}
                if frame[2] == "GetConfiguration":
                    answer = {"configurationKey": []}
                await self.ws.send(orjson.dumps([3, frame[1], answer]).decode())

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        return [entry for entry in self.log if entry is not None]


async def test_every_booting_charger_gets_its_failsafe_first(tmp_path: Path) -> None:
    holder: dict[str, ControlLoop] = {}

    async def limits_first(charger_id: str) -> None:
        await holder["loop"].first_limits(charger_id)

    csms = await start_csms(tmp_path, limits_first=limits_first)
    loop = ControlLoop(csms.db.session, csms.bus, csms.central.gateway, LoopSettings())
    holder["loop"] = loop
    async with csms.db.session() as s:
        site = m.Site(name="Storm", max_current=10.0 * CHARGERS)
        s.add(site)
        await s.flush()
        circuits = [m.Circuit(site_id=site.id, name=f"C{i}", max_current=130.0) for i in range(5)]
        s.add_all(circuits)
        await s.flush()
        for n in range(CHARGERS):
            await add_wired_charger(s, site.id, f"STORM-{n}", circuits[n % 5].id)
    await loop.start()
    chargers: list[Charger] = []
    readers: list[asyncio.Task[None]] = []
    try:
        await loop.settle()
        for n in range(CHARGERS):
            ws = await websockets.connect(csms.url(f"STORM-{n}"), subprotocols=["ocpp1.6"])
            chargers.append(Charger(ws))
        readers = [asyncio.create_task(c.read()) for c in chargers]

        async def boot(n: int, charger: Charger) -> None:
            await asyncio.sleep(0.01 * (n % 10))  # ten bursts, while rounds run
            await charger.ws.send(orjson.dumps([2, "boot", "BootNotification", BOOT]).decode())
            assert (await asyncio.wait_for(charger.boot_answer, 10))["status"] == "Accepted"

        await asyncio.gather(*(boot(n, c) for n, c in enumerate(chargers)))

        async def configured() -> bool:
            return all(any(a == "ChangeConfiguration" for a, _ in c.calls()) for c in chargers)

        await eventually(configured, 30, "every charger's configuration pushed")
        for n, charger in enumerate(chargers):
            # Nothing before the boot was answered (its answer is the first frame).
            assert charger.log[0] is None, (n, charger.log[:3])
            calls = charger.calls()
            action, payload = calls[0]
            assert action == "SetChargingProfile", (n, calls[:3])
            profile = payload["csChargingProfiles"]
            assert (profile["chargingProfilePurpose"], profile["stackLevel"]) == (
                "TxDefaultProfile",
                0,
            ), (n, calls[:3])
            first_config = next(i for i, (a, _) in enumerate(calls) if a in CONFIG_CALLS)
            assert calls[first_config][0] == "GetConfiguration"
            before = [p["csChargingProfiles"] for a, p in calls[:first_config] if p]
            assert all(a == "SetChargingProfile" for a, _ in calls[:first_config])
            assert any(p["stackLevel"] >= 1 for p in before), (n, calls[:first_config])
    finally:
        for charger in chargers:
            await charger.ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await loop.stop()
        await csms.central.stop()
        await csms.db.dispose()
