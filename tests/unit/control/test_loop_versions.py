"""A charger is greeted in the OCPP version of its new connection, even when the loop's
snapshot of it was read while it still spoke another one (a firmware upgrade from 1.6 to
2.0.1, or a read that began before its connection was stored)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from chargegrid import events as ev
from chargegrid.bus.memory import EventBus
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.services.charger_ports import PresenceWrite, StatusWrite
from chargegrid.store import models as m
from chargegrid.store.charger_store import SqlChargerStore, chargers
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.types import utcnow

from .fakes import FakeGateway


@pytest.fixture
async def loop_and_charger(
    tmp_path: Path,
) -> AsyncIterator[tuple[ControlLoop, FakeGateway, EventBus, str]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}")
    await upgrade(db.engine)
    store = SqlChargerStore(db.engine)
    charger = await store.register("CP-V")
    site_id = uuid.uuid4()
    async with db.engine.begin() as conn:
        await conn.execute(insert(m.Site).values(id=site_id, name="S", max_current=32.0))
        await conn.execute(
            update(chargers)
            .where(chargers.c.id == charger.id)
            .values(site_id=site_id, registration_status="Accepted")
        )
    # Known as a 1.6 charger when the loop reads the site.
    await store.apply(
        [
            PresenceWrite(charger.id, True, utcnow(), "1.6"),
            StatusWrite(charger.id, 1, "Available", None, None, None, None, utcnow()),
        ]
    )
    bus, gateway = EventBus(), FakeGateway()
    loop = ControlLoop(db.session, bus, gateway, LoopSettings(debounce_s=0.001, reconcile_s=3600))
    await loop.start()
    loop.trigger(str(site_id), reload=True, at_once=True)
    await loop.wait_idle()
    try:
        yield loop, gateway, bus, str(charger.id)
    finally:
        await loop.stop()
        await store.close()
        await db.dispose()


async def test_the_first_calls_are_written_in_the_new_connections_version(
    loop_and_charger: tuple[ControlLoop, FakeGateway, EventBus, str],
) -> None:
    loop, gateway, bus, charger_id = loop_and_charger
    sent_before = len(gateway.calls)
    # It comes back speaking 2.0.1; its ready event says so (the database is not read).
    ready: ev.ChargerReady = {
        "charger_id": charger_id,
        "ocpp_id": "CP-V",
        "rebooted": True,
        "ocpp_version": "2.0.1",
    }
    bus.publish(ev.CHARGER_READY, ready)
    await loop.first_limits(charger_id)
    await loop.wait_idle()
    new = [c for c in gateway.calls[sent_before:] if c.action == "SetChargingProfile"]
    assert new, "no limits sent after the charger became ready"
    for call in new:
        assert "evseId" in call.payload and "chargingProfile" in call.payload, call.payload
        assert "connectorId" not in call.payload
