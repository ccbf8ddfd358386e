"""The control loop plans a connector as wired the way its charger reported after boot
(ConnectorPhaseRotation), once the post-boot exchange's ``config.changed`` comes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from chargegrid.bus.memory import EventBus
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.services.charger_ports import (
    ChargerRecord,
    ConfigWrite,
    PresenceWrite,
    StartWrite,
    StatusWrite,
)
from chargegrid.store import models as m
from chargegrid.store.charger_store import SqlChargerStore, chargers, id_tags
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

from .fakes import FakeGateway


@dataclass
class World:
    db: Database
    bus: EventBus
    store: SqlChargerStore
    loop: ControlLoop
    site_id: str
    charger: ChargerRecord


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A 16 A site with one charger whose connector 1 the store created on first sight
    (wiring unknown: 3-phase RST), a session charging on it."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wiring.db'}")
    await upgrade(db.engine)
    site_id = uuid.uuid4()
    store = SqlChargerStore(db.engine)
    charger = await store.register("CP-W")
    async with db.engine.begin() as conn:
        await conn.execute(insert(m.Site).values(id=site_id, name="S", max_current=16.0))
        await conn.execute(
            update(chargers)
            .where(chargers.c.id == charger.id)
            .values(site_id=site_id, registration_status="Accepted")
        )
        await conn.execute(insert(id_tags).values(id=uuid.uuid4(), id_tag="TAG"))
    at = datetime.now(UTC) - timedelta(minutes=1)
    await store.apply(
        [
            PresenceWrite(charger.id, True, at),
            StatusWrite(charger.id, 1, "Charging", None, None, None, None, at),
            StartWrite(charger.id, 1, "TAG", 0, at, None),
        ]
    )
    bus = EventBus()
    loop = ControlLoop(
        db.session, bus, FakeGateway(), LoopSettings(debounce_s=0.001, reconcile_s=3600)
    )
    await loop.start()
    await loop.wait_idle()
    yield World(db, bus, store, loop, str(site_id), charger)
    await loop.stop()
    await store.close()
    await db.dispose()


def allocated(world: World) -> dict[str, float]:
    """What the site's fuse carries per grid phase in the last round."""
    view: dict[str, Any] | None = world.loop.view(world.site_id)
    assert view is not None
    (site,) = [n for n in view["nodes"] if n["id"] == world.site_id]
    return {p: site["phases"][p]["allocated"] for p in ("l1", "l2", "l3")}


async def test_the_loop_plans_the_connector_as_the_charger_reported_it(world: World) -> None:
    assert allocated(world) == {"l1": 16.0, "l2": 16.0, "l3": 16.0}  # unknown: all three
    # The post-boot exchange: the configuration stored, then config.changed published.
    await world.store.apply(
        [ConfigWrite(world.charger.id, config_sync="applied", connector_phase_rotation="1.S")]
    )
    world.bus.publish(
        "config.changed",
        {"charger_id": str(world.charger.id), "ocpp_id": "CP-W", "config_sync": "applied"},
    )
    await world.loop.settle()
    # A 1-phase connector on grid L2: the session's current is counted there alone.
    assert allocated(world) == {"l1": 0.0, "l2": 16.0, "l3": 0.0}
