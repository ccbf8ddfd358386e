"""Cuts and the car's reaction time (IEC 61851-1: 5 s) in the control loop, with a fake
clock: a cut car counts at its old limit until it has had the time (or a reading shows
it followed); a further cut still reaches it; what it is to free waits."""

from __future__ import annotations

from chargegrid.control.apply import EvseKey

from .fakes import FakeClock
from .test_loop import World, per_grid_phase, set_available
from .test_loop_compliance import world  # noqa: F401 (the fixture, on a fake clock)


async def test_a_cut_car_is_counted_at_its_old_limit_until_it_has_had_the_time(
    world: World,  # noqa: F811
) -> None:
    clock = world.loop.clock
    assert isinstance(clock, FakeClock)
    cp3 = EvseKey(str(world.c3), 1)
    await set_available(world, 20.0)  # from 32 A: CP3 and CP1 cut, draws unknown
    assert cp3 in world.loop.engine.ramping()
    world.loop.trigger(str(world.site_id))  # the next round shows it
    await world.settle()
    view = world.loop.view(str(world.site_id))
    assert view is not None
    reasons = {s["charger_id"]: s["reason"] for s in view["sessions"]}
    assert reasons[str(world.c3)] == "slowing_down"
    cut = per_grid_phase(world)
    assert max(cut) <= 20.0

    # A further cut reaches a car that is still slowing down ...
    await set_available(world, 12.0)
    assert max(per_grid_phase(world)) <= 12.0
    # ... but a raise waits until the cut cars have had their reaction time.
    await set_available(world, 63.0)
    assert max(per_grid_phase(world)) <= 12.0
    clock.advance(5.0)
    world.loop.trigger(str(world.site_id))
    await world.settle()
    assert world.loop.engine.ramping() == {}
    assert world.live()["CP3"].limit == 32.0
