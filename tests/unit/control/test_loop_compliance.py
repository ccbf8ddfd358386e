"""The control loop with a car that does not follow its limit (issue 11, rule 6).

The site of ``test_loop`` (63 A; CP3 3-phase on circuit A, CP1 1-phase on circuit B on
grid L2) cut to 30 A, so CP3 and CP1 share grid L2. CP3's meter reports power and the
energy register only, never current. A fake clock moves the monotonic time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chargegrid.bus.memory import EventBus
from chargegrid.control import metrics
from chargegrid.control.compliance import ComplianceSettings
from chargegrid.control.loop import ControlLoop, LoopSettings, RoundStats
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

from .fakes import FakeClock, FakeGateway
from .test_loop import World, _seed, set_available

VOLTS = 230.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    await upgrade(db.engine)
    site_id, c3, c1, b = await _seed(db)
    bus = EventBus()
    gateway = FakeGateway()
    settings = LoopSettings(
        debounce_s=0.001,
        reconcile_s=3600,
        compliance=ComplianceSettings(reaction_s=10.0, resend_every_s=30.0),
    )
    clock = FakeClock()
    loop = ControlLoop(db.session, bus, gateway, settings, clock)
    rounds: list[RoundStats] = []
    loop.round_listeners.append(rounds.append)
    await loop.start()
    await loop.wait_idle()
    yield World(db, bus, gateway, loop, site_id, c3, c1, b, rounds)
    await loop.stop()
    await db.dispose()


async def session_of(world: World, charger_id: uuid.UUID) -> str:
    async with world.db.session() as s:
        found = await s.scalar(
            select(m.ChargingSession.id).where(m.ChargingSession.charger_id == charger_id)
        )
    assert found is not None
    return str(found)


async def power_reading(world: World, session_id: str, amps_per_phase: float) -> None:
    """CP3 reports its total power (3 phases at ``amps_per_phase``) and nothing else."""
    clock = world.loop.clock
    assert isinstance(clock, FakeClock)
    payload: dict[str, Any] = {
        "session_id": session_id,
        "charger_id": str(world.c3),
        "ocpp_id": "CP3",
        "connector_id": 1,
        "transaction_id": 103,
        "timestamp": clock.utcnow().isoformat(),
        "current": {"l1": None, "l2": None, "l3": None},
        "power_w": amps_per_phase * 3 * VOLTS,
        "energy_wh": None,
        "soc": None,
        "power": {"l1": None, "l2": None, "l3": None},
        "voltage": {"l1": None, "l2": None, "l3": None},
        "current_unphased": None,
        "energy_register_wh": None,
    }
    world.bus.publish("session.updated", payload)
    await world.settle()


def sessions_by_charger(world: World) -> dict[str, dict[str, Any]]:
    view = world.loop.view(str(world.site_id))
    assert view is not None
    return {s["charger_id"]: s for s in view["sessions"]}


def cp1_limit(world: World) -> float:
    return world.gateway.limits_for("CP1")[-1]


async def test_power_only_car_over_its_limit_is_planned_at_its_draw_and_told_again(
    world: World,
) -> None:
    clock = world.loop.clock
    assert isinstance(clock, FakeClock)
    events = world.bus.subscribe("charger.limit_violation")
    await set_available(world, 30.0)
    cp3_limit = world.gateway.limits_for("CP3")[-1]
    assert cp3_limit + cp1_limit(world) <= 30.0  # sharing grid L2
    assert cp3_limit == 15.0
    s3 = await session_of(world, world.c3)
    started = metrics.LIMIT_VIOLATIONS._value.get()

    # The car keeps drawing 22 A per phase: measured from its power, not yet a violation.
    clock.advance(1.0)
    await power_reading(world, s3, 22.0)
    view3 = sessions_by_charger(world)[str(world.c3)]
    assert view3["measured_source"] == "power"
    assert view3["measured"]["l2"] == pytest.approx(22.0)
    assert view3["reason"] != "not_following_limit"
    # Not flagged yet, but its 22 A flow now: counted at once, so CP1 makes room.
    assert cp1_limit(world) + 22.0 <= 30.0
    clock.advance(8.0)
    await power_reading(world, s3, 22.0)
    assert events.get_nowait() is None  # 8 s over: within the reaction time
    sent_to_cp3 = len(world.gateway.limits_for("CP3"))
    told = world.gateway.limits_for("CP3")[-1]  # planned beside its excess meanwhile

    clock.advance(3.0)  # 11 s over
    await power_reading(world, s3, 22.0)
    event = events.get_nowait()
    assert event is not None
    assert event.payload["site_id"] == str(world.site_id)
    assert event.payload["charger_id"] == str(world.c3)
    assert event.payload["ocpp_id"] == "CP3"
    assert event.payload["session_id"] == s3
    assert event.payload["evse_number"] == 1
    assert event.payload["limit_a"] == told
    assert event.payload["measured_a"] == pytest.approx(22.0)
    assert event.payload["ended"] is False
    assert event.payload["since"] == (clock.utcnow() - timedelta(seconds=11)).isoformat()
    assert metrics.LIMIT_VIOLATIONS._value.get() == started + 1
    # Counted at its 22 A: CP1 gets what is left of 30 A on L2; its 15 A is sent again.
    assert cp1_limit(world) + 22.0 <= 30.0
    assert world.gateway.limits_for("CP3")[sent_to_cp3:] == [told]
    view3 = sessions_by_charger(world)[str(world.c3)]
    assert view3["reason"] == "not_following_limit"
    site = next(n for n in world.loop.view(str(world.site_id))["nodes"] if n["kind"] == "site")  # type: ignore[index]
    assert site["phases"]["l2"]["allocated"] <= 30.0
    assert site["phases"]["l2"]["allocated"] >= 22.0 + cp1_limit(world) - 0.01

    # Still over, later: reported once, its draw followed, told again only after 30 s.
    clock.advance(10.0)
    await power_reading(world, s3, 25.0)
    assert events.get_nowait() is None
    assert cp1_limit(world) + 25.0 <= 30.0
    assert world.gateway.limits_for("CP3")[sent_to_cp3:] == [told]

    # It follows its limit: the violation ends and CP1 may get its share back.
    clock.advance(10.0)
    await power_reading(world, s3, 14.5)
    ended = events.get_nowait()
    assert ended is not None and ended.payload["ended"] is True
    assert ended.payload["reason"] == "complied"
    assert sessions_by_charger(world)[str(world.c3)]["reason"] != "not_following_limit"
    clock.advance(5.0)  # past the increase hold-off
    world.loop.trigger(str(world.site_id))
    await world.settle()
    assert cp1_limit(world) == 15.0
    events.close()


async def test_a_violation_open_when_its_session_stops_is_reported_ended(world: World) -> None:
    clock = world.loop.clock
    assert isinstance(clock, FakeClock)
    events = world.bus.subscribe("charger.limit_violation")
    await set_available(world, 30.0)
    s3 = await session_of(world, world.c3)
    for _ in range(3):
        clock.advance(6.0)
        await power_reading(world, s3, 22.0)
    began = events.get_nowait()
    assert began is not None and began.payload["ended"] is False
    world.bus.publish(
        "session.stopped",
        {"session_id": s3, "charger_id": str(world.c3), "ocpp_id": "CP3", "connector_id": 1},
    )
    await world.settle()
    ended = events.get_nowait()
    assert ended is not None and ended.payload["ended"] is True
    assert ended.payload["reason"] == "session_stopped"
    assert ended.payload["since"] == began.payload["since"]
    assert world.loop.compliance.violations() == {}
    events.close()


@pytest.mark.parametrize("with_transaction_id", [True, False])
async def test_a_refused_start_that_draws_anyway_is_caught_and_planned_around(
    world: World, with_transaction_id: bool
) -> None:
    """Issue 11 rule 4: a refused start is no session to the plan (its EVSE idles at
    0 A); a charger that lets its car draw anyway is caught by the watcher, also when it
    forgot the transaction and meters the car without a transactionId (no session)."""
    clock = world.loop.clock
    assert isinstance(clock, FakeClock)
    events = world.bus.subscribe("charger.limit_violation")
    async with world.db.session() as s:
        row = await s.scalar(
            select(m.ChargingSession).where(m.ChargingSession.charger_id == world.c1)
        )
        assert row is not None
        row.authorization_status = "Invalid"
        refused = str(row.id)
    world.bus.publish("config.changed", {"charger_id": str(world.c1)})
    await set_available(world, 30.0)
    assert cp1_limit(world) == 0.0  # its EVSE idles
    assert world.gateway.limits_for("CP3")[-1] == 30.0  # all of L2

    async def cp1_draws(amps: float) -> None:
        payload: dict[str, Any] = {
            "session_id": refused if with_transaction_id else None,
            "charger_id": str(world.c1),
            "ocpp_id": "CP1",
            "connector_id": 1,
            "transaction_id": 101 if with_transaction_id else None,
            "timestamp": clock.utcnow().isoformat(),
            "current": {"l1": None, "l2": None, "l3": None},
            "power_w": amps * VOLTS,
            "power": {"l1": None, "l2": None, "l3": None},
            "voltage": {"l1": None, "l2": None, "l3": None},
            "current_unphased": None,
            "energy_register_wh": None,
        }
        world.bus.publish("session.updated", payload)
        await world.settle()

    clock.advance(1.0)
    await cp1_draws(16.0)
    clock.advance(5.0)
    await cp1_draws(16.0)
    assert events.get_nowait() is None  # 5 s: within the reaction time
    clock.advance(6.0)
    await cp1_draws(16.0)
    began = events.get_nowait()
    assert began is not None
    assert began.payload["session_id"] == (refused if with_transaction_id else None)
    assert began.payload["limit_a"] == 0.0 and began.payload["measured_a"] == 16.0
    # Its 16 A on L2 is held: CP3 gets what is left of 30 A there.
    assert world.gateway.limits_for("CP3")[-1] + 16.0 <= 30.0
    assert world.gateway.limits_for("CP1")[-1] == 0.0  # told 0 A again
    site = next(n for n in world.loop.view(str(world.site_id))["nodes"] if n["kind"] == "site")  # type: ignore[index]
    assert site["phases"]["l2"]["allocated"] >= 16.0

    world.bus.publish(
        "charger.status_changed",
        {"charger_id": str(world.c1), "connector_id": 1, "ocpp_status": "Available"},
    )
    await world.settle()
    ended = events.get_nowait()
    assert ended is not None and ended.payload["ended"] is True
    assert ended.payload["reason"] == "connector_available"
    assert world.loop.compliance.violations() == {}
    events.close()
