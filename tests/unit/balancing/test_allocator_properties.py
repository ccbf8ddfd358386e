"""Rules 1-5 and 7 of the allocator on random trees, rotations and demands."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.balancing import Demand, Problem, allocate, check_plan
from chargegrid.balancing.deadlines import DEFER_LAXITY_H, SECONDS_PER_HOUR

from .checks import TOLERANCE_A, check_all
from .strategies import grid_phases, problems

# Hundreds of cases in the suite (each a few ms); the thousands of the long run are
# HYPOTHESIS_PROFILE=long (python -m bench.properties).
MANY = settings(
    max_examples=examples(250, 1500), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SOME = settings(
    max_examples=examples(100, 400), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@MANY
@given(problems())
def test_every_rule_holds_on_random_sites(problem: Problem) -> None:
    plan = allocate(problem)
    check_all(problem, plan)
    check_plan(problem, plan)


@SOME
@given(problems(max_circuits=2, max_sessions=20))
def test_rules_hold_on_crowded_sites(problem: Problem) -> None:
    check_all(problem, allocate(problem))


@SOME
@given(problems(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(problem: Problem, random: st.SearchStrategy) -> None:  # type: ignore[type-arg]
    nodes = list(problem.nodes)
    demands = list(problem.demands)
    random.shuffle(nodes)  # type: ignore[attr-defined]
    random.shuffle(demands)  # type: ignore[attr-defined]
    shuffled = replace(problem, nodes=tuple(nodes), demands=tuple(demands))
    first = {e.session_id: e for e in allocate(problem).sessions}
    second = {e.session_id: e for e in allocate(shuffled).sessions}
    assert first == second


@SOME
@given(problems(deadlines=False, switching=False), st.data())
def test_urgent_twin_gets_at_least_as_much(problem: Problem, data: st.DataObject) -> None:
    """Two sessions alike but for a deadline: the one that needs its current soon
    (laxity under the deferral threshold) never gets less than its twin without one."""
    base = Demand("twin-a", "site", 32.0, min_current=6.0, plugged_in_at=0.0)
    energy = data.draw(st.floats(1000.0, 30_000.0))
    hours_at_max = energy / (problem.voltage * 3 * 32.0)
    laxity = data.draw(st.floats(-1.0, DEFER_LAXITY_H * 0.99))
    urgent = replace(
        base,
        session_id="twin-b",
        departure_at=problem.now + (hours_at_max + laxity) * SECONDS_PER_HOUR,
        energy_wanted_wh=energy,
    )
    plan = allocate(replace(problem, demands=(*problem.demands, base, urgent)))
    a, b = plan.session("twin-a"), plan.session("twin-b")
    if a.limit_a > 0 and b.limit_a > 0:
        assert b.limit_a >= a.limit_a - TOLERANCE_A


@SOME
@given(problems())
def test_plan_weight_is_the_priority(problem: Problem) -> None:
    plan = allocate(problem)
    for demand, entry in zip(problem.demands, plan.sessions, strict=True):
        if entry.limit_a > 0:
            assert entry.weight == demand.weight
            assert len(grid_phases(problem, demand)) >= len(entry.grid_phases)
