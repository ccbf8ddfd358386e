"""A short reconnect storm over real sockets (issue 13; the long one is ``bench/storm``):
120 chargers connect at once, then all drop at once and reconnect at once, twice
(their TCP connections torn down; then left open and unread, so each new connection
replaces a live one). After each wave every charger is Accepted with no CallError, the
server logged no error, and each connection got the post-boot exchange exactly once.
Invariants only: how fast is the benchmark's business."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import pytest
from bench.storm.fleet import LAST_SETTING, Charger
from sqlalchemy import insert

from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.store import models as m
from tests.e2e.conftest import Csms, eventually, start_csms

pytestmark = pytest.mark.e2e

# Enough at once to fill the server's group commits and race its boot sequences; size
# is the benchmark's business (python -m bench.storm --chargers 300 is what the suite
# ran before, 10,000 in bench/results/storm.md).
CHARGERS = 120
SITES = 3


async def seed(csms: Csms) -> list[str]:
    """Three sites of 40 wired chargers, inserted in bulk."""
    names = [f"STORM{n:04d}" for n in range(CHARGERS)]
    sites = [uuid.uuid4() for _ in range(SITES)]
    chargers, evses, connectors = [], [], []
    for n, name in enumerate(names):
        charger, evse = uuid.uuid4(), uuid.uuid4()
        chargers.append(
            {
                "id": charger,
                "site_id": sites[n % SITES],
                "ocpp_id": name,
                "max_charge_phases": 3,
                "meter_value_interval": 60,  # what the chargers report: not pushed
            }
        )
        evses.append({"id": evse, "charger_id": charger, "evse_number": 1})
        connectors.append(
            {
                "id": uuid.uuid4(),
                "evse_id": evse,
                "charger_id": charger,
                "connector_id": 1,
                "power_type": "AC_3_PHASE",
                "phase_rotation": "RST",
                "max_amperage": 32,
            }
        )
    async with csms.db.session() as s:
        await s.execute(
            insert(m.Site),
            [{"id": site, "name": f"S{i}", "max_current": 1000.0} for i, site in enumerate(sites)],
        )
        await s.execute(insert(m.Charger), chargers)
        await s.execute(insert(m.Evse), evses)
        await s.execute(insert(m.Connector), connectors)
    return names


async def wave(csms: Csms, chargers: list[Charger]) -> None:
    """All connect and boot at once; back once each has had its exchange and the
    server has no boot-sequence work left on any connection (so no late repeat)."""
    start = time.monotonic()
    runs = [asyncio.create_task(c.run(start)) for c in chargers]
    await asyncio.gather(*runs)

    async def settled() -> bool:
        return all(c.settled.is_set() for c in chargers)

    await eventually(settled, 120, "every charger Accepted and configured")

    async def quiet() -> bool:
        live = [csms.central.gateway.connection(c.name) for c in chargers]
        # The boot sequence's work (the post-boot exchange) runs in each connection's
        # background tasks: once none is left, nothing more can come unasked.
        return all(not connection._background for connection in live)

    await eventually(quiet, 60, "the boot sequences finished")


def check(chargers: list[Charger], what: str) -> None:
    for c in chargers:
        link = c.link
        assert link.boot_status == "Accepted", (what, c.name, link)
        assert link.error is None, (what, c.name, link.error)
        assert link.call_errors == [], (what, c.name, link.call_errors)
        assert link.calls.get("GetConfiguration") == 1, (what, c.name, link.calls)
        assert link.settings == {LAST_SETTING: 1}, (what, c.name, link.settings)


async def test_a_storm_of_reconnects_is_accepted_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    holder: dict[str, ControlLoop] = {}

    async def limits_first(charger_id: str) -> None:
        await holder["loop"].first_limits(charger_id)

    csms = await start_csms(tmp_path, limits_first=limits_first)
    loop = ControlLoop(csms.db.session, csms.bus, csms.central.gateway, LoopSettings())
    holder["loop"] = loop
    names = await seed(csms)
    await loop.start()
    url = f"ws://127.0.0.1:{csms.port}/ocpp"
    chargers = [Charger(url, name, deadline_s=120) for name in names]
    everyone = list(chargers)
    try:
        await loop.settle()
        await wave(csms, chargers)
        check(chargers, "first connect")
        for how in ("abort", "silent"):
            for c in chargers:
                c.drop(how)
            chargers = [c.again() for c in chargers]
            everyone += chargers
            await wave(csms, chargers)
            check(chargers, f"after a mass drop ({how})")
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors[:5]]
    finally:
        for c in everyone:
            if c.ws is not None:
                c.ws.transport.abort()
        await loop.stop()
        await csms.central.stop()
        await csms.db.dispose()
