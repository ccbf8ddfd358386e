"""Our simulator against our central system, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from chargegrid.ocpp.charging_profiles import current_limit
from chargegrid.services.charger_commands import ClearChargingProfile, SetChargingProfile
from chargegrid.sim.car import Car
from chargegrid.sim.charger import ChargerSpec
from chargegrid.sim.faults import Faults
from chargegrid.sim.fleet import Fleet, FleetConfig, charger_specs
from chargegrid.store.charger_store import sessions
from chargegrid.store.meter_messages import decode_samples
from chargegrid.store.ocpp_tables import meter_messages
from tests.e2e.conftest import Csms, eventually

pytestmark = pytest.mark.e2e

FAST = {"speed": 60.0, "tick_s": 0.05, "mean_idle_s": 6.0, "mean_stay_s": 240.0}


async def fleet_for(csms: Csms, chargers: int = 4, **options: object) -> Fleet:
    config = FleetConfig(
        url=f"ws://127.0.0.1:{csms.port}/ocpp", chargers=chargers, seed=7, **(FAST | options)
    )
    for spec in charger_specs(config):
        await csms.add_charger(spec.ocpp_id, meter_value_interval=10)
    for tag in config.id_tags:
        await csms.add_id_tag(tag)
    return Fleet(config)


async def count(csms: Csms, query: object) -> int:
    (row,) = await csms.rows(query)
    return int(row[0])


async def test_fleet_boots_charges_and_leaves(csms: Csms) -> None:
    fleet = await fleet_for(csms, chargers=4)
    await fleet.start()
    try:

        async def booted_and_synced() -> bool:
            rows = [await csms.charger_row(ocpp_id) for ocpp_id in fleet.chargers]
            return all(r.online and r.config_sync == "applied" and r.vendor for r in rows)

        await eventually(booted_and_synced, what="all chargers booted and configured")

        async def finished_sessions() -> bool:
            done = (
                select(func.count()).select_from(sessions).where(sessions.c.stopped_at.isnot(None))
            )
            return await count(csms, done) >= 3

        await eventually(finished_sessions, timeout=30, what="three finished sessions")
        stopped = await csms.rows(select(sessions).where(sessions.c.stopped_at.isnot(None)))
        assert all(s.energy_wh > 0 for s in stopped if s.stop_reason == "EVDisconnected")

        async def per_phase_stored() -> bool:
            rows = await csms.rows(select(meter_messages.c.samples))
            return any(
                s.measurand == "Current.Import" and s.phase == "L1"
                for row in rows
                for s in decode_samples(row.samples)
            )

        await eventually(per_phase_stored, what="per-phase currents stored")
        # Every charger learnt the interval the CSMS pushed.
        assert {c.config["MeterValueSampleInterval"] for c in fleet.chargers.values()} == {"10"}
    finally:
        await fleet.stop()


async def test_charging_profile_limits_the_physical_draw(csms: Csms) -> None:
    """A 1-phase car on a connector wired S (grid L2) follows a 10 A TxDefaultProfile."""
    spec = ChargerSpec("ROT-1", connectors=1, phases=1, rotations=("S",))
    config = FleetConfig(url=f"ws://127.0.0.1:{csms.port}/ocpp", **(FAST | {"mean_idle_s": 1e9}))
    await csms.add_charger("ROT-1", meter_value_interval=10)
    await csms.add_id_tag("CAR-TAG")
    fleet = Fleet(config, specs=[spec])
    await fleet.start()
    charger = fleet.charger("ROT-1")
    try:
        await eventually(lambda: _is_set(charger.booted), what="boot")
        charger.plug_in(
            1,
            Car(
                "ev",
                phases=1,
                max_current=16,
                battery_wh=60_000,
                soc=20,
                stay_s=1e9,
                id_tag="CAR-TAG",
            ),
        )

        async def drawing(amps: float) -> bool:
            s = fleet.draw_log.latest("ROT-1", 1)
            return s is not None and abs(s.l2 - amps) < 0.5 and s.l1 == 0 and s.l3 == 0

        await eventually(lambda: drawing(16.0), what="the car at its 16 A on grid L2")
        lease = datetime.now(UTC) + timedelta(minutes=5)
        answer = await csms.central.gateway.command(
            "ROT-1", SetChargingProfile(1, current_limit(1, 10.0, valid_to=lease)), 5
        )
        assert answer["status"] == "Accepted"
        await eventually(lambda: drawing(10.0), what="the car down to 10 A")
        cleared = await csms.central.gateway.command("ROT-1", ClearChargingProfile(profile_id=1), 5)
        assert cleared["status"] == "Accepted"
        await eventually(lambda: drawing(16.0), what="the car back at 16 A")
    finally:
        await fleet.stop()


async def test_link_drops_lose_nothing(csms_on_each_db: Csms) -> None:
    """With the link dropped every ~0.5 s, every session the chargers ran is stored
    exactly once, with its stop (on SQLite and on PostgreSQL)."""
    csms = csms_on_each_db
    fleet = await fleet_for(csms, chargers=3, faults=Faults(drop_link_every_s=0.5))
    await fleet.start()
    try:
        await eventually(
            lambda: _reconnected(fleet, 3), timeout=30, what="several reconnects per charger"
        )
    finally:
        # No new cars; the ones there leave (the links keep dropping); outboxes drain.
        fleet.arrivals = False
        for charger in fleet.chargers.values():
            for number, c in charger.connectors.items():
                if c.car is not None:
                    charger.leave(number)

        async def drained() -> bool:
            return all(not c.outbox for c in fleet.chargers.values())

        await eventually(drained, timeout=30, what="outboxes to drain")
        await fleet.stop()
    open_sessions = await count(
        csms, select(func.count()).select_from(sessions).where(sessions.c.stopped_at.is_(None))
    )
    assert open_sessions == 0
    total = await count(csms, select(func.count()).select_from(sessions))
    started = sum(c.transactions_started for c in fleet.chargers.values())
    assert started >= 1
    assert total == started  # none lost, none stored twice


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _reconnected(fleet: Fleet, times: int) -> bool:
    return all(c.connected_count > times for c in fleet.chargers.values())
