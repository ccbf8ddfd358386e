"""The control loop over a real SQLite store and the in-process bus, with a fake gateway.

Site: 63 A main fuse; circuit A (32 A, RST) with a 3-phase charger; circuit B (16 A,
rotation STR) with a 1-phase charger whose connector ``R`` lands on grid L2.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargegrid.bus.memory import EventBus
from chargegrid.control.apply import EvseKey
from chargegrid.control.loop import LOAD_CHANGED, ControlLoop, LoopSettings, RoundStats
from chargegrid.control.profiles import Limit
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

from .fakes import Call, FakeGateway


@dataclass
class World:
    db: Database
    bus: EventBus
    gateway: FakeGateway
    loop: ControlLoop
    site_id: uuid.UUID
    c3: uuid.UUID  # 3-phase charger on circuit A
    c1: uuid.UUID  # 1-phase charger on circuit B (grid L2)
    circuit_b: uuid.UUID
    rounds: list[RoundStats]

    def live(self) -> dict[str, Call]:
        """The last live (non-failsafe) profile sent to each charger."""
        last: dict[str, Call] = {}
        for call in self.gateway.calls:
            if call.profile["stackLevel"] != 0:
                last[call.ocpp_id] = call
        return last

    async def settle(self) -> None:
        await self.loop.settle()


async def _seed(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    site_id, a, b, c3, c1 = (uuid.uuid4() for _ in range(5))
    started = datetime.now(UTC) - timedelta(minutes=5)
    async with db.session() as s:
        s.add(m.Site(id=site_id, name="Garage", max_current=63.0))
        await s.flush()
        s.add(m.Circuit(id=a, site_id=site_id, name="A", max_current=32.0))
        s.add(m.Circuit(id=b, site_id=site_id, name="B", max_current=16.0, phase_rotation="STR"))
        await s.flush()
        for cid, ocpp, circuit, power, rotation, phases in (
            (c3, "CP3", a, "AC_3_PHASE", "RST", 3),
            (c1, "CP1", b, "AC_1_PHASE", "R", 1),
        ):
            s.add(
                m.Charger(
                    id=cid,
                    site_id=site_id,
                    circuit_id=circuit,
                    ocpp_id=ocpp,
                    online=True,
                    max_charge_phases=phases,
                )
            )
            await s.flush()
            evse = m.Evse(charger_id=cid, evse_number=1)
            s.add(evse)
            await s.flush()
            s.add(
                m.Connector(
                    evse_id=evse.id,
                    charger_id=cid,
                    connector_id=1,
                    power_type=power,
                    phase_rotation=rotation,
                    max_amperage=32,
                )
            )
            s.add(
                m.ChargingSession(
                    charger_id=cid,
                    evse_id=evse.id,
                    evse_number=1,
                    connector_id=1,
                    transaction_id=100 + phases,
                    started_at=started,
                )
            )
    return site_id, c3, c1, b


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    await upgrade(db.engine)
    site_id, c3, c1, b = await _seed(db)
    bus = EventBus()
    gateway = FakeGateway()
    loop = ControlLoop(db.session, bus, gateway, LoopSettings(debounce_s=0.001, reconcile_s=3600))
    rounds: list[RoundStats] = []
    loop.round_listeners.append(rounds.append)
    await loop.start()
    await loop.wait_idle()
    yield World(db, bus, gateway, loop, site_id, c3, c1, b, rounds)
    await loop.stop()
    await db.dispose()


def per_grid_phase(world: World) -> list[float]:
    """What the last live profiles allow on each grid phase: CP3 on L1 (1 phase) or
    L1-L3, CP1 on L2."""
    live = world.live()
    three, one = live["CP3"], live["CP1"]
    spread = three.limit if three.phases == 3 else 0.0
    return [three.limit, spread + one.limit, spread]


async def set_available(world: World, amps: float) -> None:
    async with world.db.session() as s:
        site = await s.get(m.Site, world.site_id)
        assert site is not None
        site.available_current_l1 = site.available_current_l2 = site.available_current_l3 = amps
    world.bus.publish(
        "config.changed",
        {"kind": "site", "id": str(world.site_id), "site_id": str(world.site_id)},
    )
    await world.settle()


async def test_start_plans_every_session_and_installs_failsafes(world: World) -> None:
    live = world.live()
    assert live["CP3"].limit == 32.0  # circuit A's fuse
    assert live["CP3"].phases == 3
    assert live["CP1"].limit == 16.0  # circuit B's fuse
    assert live["CP1"].phases == 1
    assert live["CP3"].profile["transactionId"] == 103
    failsafes = [c for c in world.gateway.calls if c.profile["stackLevel"] == 0]
    assert {c.ocpp_id for c in failsafes} == {"CP3", "CP1"}
    # All failsafes together fit every fuse: CP3 on 3 phases, CP1 on L2, 63 A site.
    by_charger = {c.ocpp_id: c.limit for c in failsafes}
    assert by_charger["CP3"] <= 32.0 and by_charger["CP1"] <= 16.0
    assert by_charger["CP3"] + by_charger["CP1"] <= 63.0


async def test_cut_to_10a_sends_reductions_and_fits_every_phase(world: World) -> None:
    world.rounds.clear()
    await set_available(world, 10.0)
    assert max(per_grid_phase(world)) <= 10.0
    live = world.live()
    # Both minimums do not fit on L2: CP3 goes to 1 phase (L1) or one of them gets 0.
    assert live["CP3"].phases == 1 or 0.0 in (live["CP3"].limit, live["CP1"].limit)
    (stats,) = [r for r in world.rounds if r.report.sent]
    assert stats.report.last_sent_at is not None


async def test_view_and_event_follow_the_plan(world: World) -> None:
    subscription = world.bus.subscribe(LOAD_CHANGED)
    await set_available(world, 20.0)
    view = world.loop.view(str(world.site_id))
    assert view is not None
    event = subscription.get_nowait()
    assert event is not None and event.payload["site_id"] == str(world.site_id)
    site_node = next(n for n in view["nodes"] if n["kind"] == "site")
    assert site_node["phases"]["l1"]["limit"] == 20.0
    l2 = site_node["phases"]["l2"]
    assert l2["allocated"] <= 20.0
    assert l2["headroom"] == pytest.approx(20.0 - l2["allocated"] - l2["unmanaged"])
    sessions = {s["charger_id"]: s for s in view["sessions"]}
    assert sessions[str(world.c1)]["grid_phases"] == ["l2"]
    assert sessions[str(world.c3)]["grid_phases"] == ["l1", "l2", "l3"]
    assert sum(s["limit"] for s in sessions.values()) == pytest.approx(20.0)
    subscription.close()


async def test_charger_that_rejects_is_held_and_others_planned_around_it(world: World) -> None:
    await set_available(world, 20.0)  # CP3 and CP1 share L2: 10 A each
    before = world.live()["CP3"].limit
    world.gateway.behaviour["CP3"] = "reject"
    await set_available(world, 12.0)
    # CP3 refused to go down: it keeps its old limit and CP1 gets what is left on L2.
    assert world.loop.engine.flags()[str(world.c3)].reason == "rejected"
    assert world.loop.engine.committed(EvseKey(str(world.c3), 1), 103) == Limit(before, 3)
    # CP1 first went to 6 A with the others' reductions; re-planned around CP3's 10 A
    # it gets 2 A on L2, under its minimum: 0.
    assert world.gateway.limits_for("CP1")[-2:] == [6.0, 0.0]
    view = world.loop.view(str(world.site_id))
    assert view is not None
    reasons = {s["charger_id"]: s["reason"] for s in view["sessions"]}
    assert reasons[str(world.c3)] == "charger_flagged"


async def test_stale_meter_reserves_offline_current(world: World) -> None:
    meter_id = uuid.uuid4()
    async with world.db.session() as s:
        s.add(m.ElectricityMeter(id=meter_id, site_id=world.site_id, name="B", max_age_s=60))
        circuit = await s.get(m.Circuit, world.circuit_b)
        assert circuit is not None
        circuit.electricity_meter_id = meter_id
        circuit.offline_reserved_current = 8.0
    world.bus.publish("config.changed", {"kind": "circuit", "site_id": str(world.site_id)})
    await world.settle()
    # No reading yet: 8 A reserved on circuit B (grid L2) leaves CP1 16 - 8 = 8 A.
    assert world.live()["CP1"].limit == 8.0
    world.bus.publish(
        "meter.reading",
        {
            "meter_id": str(meter_id),
            "site_id": str(world.site_id),
            "timestamp": datetime.now(UTC).isoformat(),
            "current_l1": 2.0,
            "current_l2": 0.0,
            "current_l3": 0.0,
        },
    )
    await world.settle()
    # A fresh reading of 2 A on the circuit's L1 (grid L2): 14 A left; an increase,
    # held back until the holdoff after the last change has passed.
    view = world.loop.view(str(world.site_id))
    assert view is not None
    node_b = next(n for n in view["nodes"] if n["id"] == str(world.circuit_b))
    assert node_b["phases"]["l2"]["unmanaged"] == 2.0
    assert node_b["phases"]["l2"]["measured"] == 2.0
    assert node_b["phases"]["l1"]["measured"] == 0.0  # the meter's L3


async def test_disconnected_charger_is_held_at_what_it_may_draw(world: World) -> None:
    world.bus.publish("charger.disconnected", {"charger_id": str(world.c3)})
    await world.settle()
    view = world.loop.view(str(world.site_id))
    assert view is not None
    reasons = {s["charger_id"]: s["reason"] for s in view["sessions"]}
    assert reasons[str(world.c3)] == "charger_offline"
