"""``chargegrid serve --demo``: the simulated chargers of the demo site, in-process.

The ids, phases, rotations and OCPP versions (a mixed 1.6 + 2.0.1 fleet) come from the
demo seed, so the simulated cars load the grid phases the load manager believes they do.
Time runs ten times faster so that a visitor sees cars arrive, charge and leave within
minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import update

from chargegrid.config import Settings
from chargegrid.domain.phases import PhaseRotation
from chargegrid.services.configure.demo import DEMO_CHARGERS, DEMO_CIRCUITS, DEMO_ID_TAGS
from chargegrid.sim.charger import ChargerSpec
from chargegrid.sim.fleet import Fleet, FleetConfig
from chargegrid.store.charger_store import chargers
from chargegrid.store.db import Database

HANDLE = "demo_fleet"
DEMO_SPEED = 10.0
DEMO_METER_INTERVAL_S = 10  # simulated seconds: a reading every second on screen
DEFAULT_METER_INTERVAL_S = 900


class RuntimeLike(Protocol):
    settings: Settings
    db: Database
    handles: dict[str, Any]


def demo_specs() -> list[ChargerSpec]:
    circuits = {name: PhaseRotation.parse(rotation) for name, _, rotation in DEMO_CIRCUITS}
    return [
        ChargerSpec(
            ocpp_id=c.ocpp_id,
            connectors=1,
            phases=c.phases,
            rotations=(c.rotation,),
            grid_rotations=(str(circuits[c.circuit].then(PhaseRotation.parse(c.rotation))),),
            max_current=float(c.max_amperage),
            vendor="chargegrid",
            model="Simulated AC " + ("1p" if c.phases == 1 else "3p"),
            ocpp_version="2.0.1" if c.ocpp_version == "2.0.1" else "1.6",
        )
        for c in DEMO_CHARGERS
    ]


@asynccontextmanager
async def demo_fleet(runtime: RuntimeLike) -> AsyncIterator[Fleet]:
    settings = runtime.settings
    ids = [c.ocpp_id for c in DEMO_CHARGERS]
    # Readings every 15 min would leave the demo's charts empty; only an untouched
    # default is changed, never an operator's choice.
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            update(chargers)
            .where(
                chargers.c.ocpp_id.in_(ids),
                chargers.c.meter_value_interval == DEFAULT_METER_INTERVAL_S,
            )
            .values(meter_value_interval=DEMO_METER_INTERVAL_S, config_sync="pending")
        )
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    config = FleetConfig(
        url=f"ws://{host}:{settings.ocpp_port}/ocpp",
        speed=DEMO_SPEED,
        mean_idle_s=300.0,
        mean_stay_s=3600.0,
        id_tags=tuple(tag for tag, status in DEMO_ID_TAGS if status == "Accepted"),
    )
    fleet = Fleet(config, demo_specs())
    await fleet.start()
    runtime.handles[HANDLE] = fleet
    try:
        yield fleet
    finally:
        runtime.handles.pop(HANDLE, None)
        await fleet.stop()
