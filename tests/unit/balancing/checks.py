"""The allocator's rules as checks on a (problem, plan) pair, written from the rules and
not from the allocator's code, so a property test can run them on any random input."""

from __future__ import annotations

import math

from chargegrid.balancing import Demand, Plan, Problem, SessionPlan, rank_key
from chargegrid.balancing.deadlines import DEFER_LAXITY_H
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import Phase

from .strategies import grid_phases, path_to_root

# The allocator works on a whole-µA grid; a session may stop a few µA short of a limit.
TOLERANCE_A = 1e-4
NOT_ADMITTED = {"below_min_not_admitted", "max_below_min"}


def lowest(demand: Demand) -> float:
    """The least current the session may get when admitted: its minimum, or the lowest
    allowed step at or above it."""
    if demand.allowed_currents is None:
        return demand.min_current
    inside = [a for a in demand.allowed_currents if a > 0 and a >= demand.min_current]
    return min(inside) if inside else math.inf


def highest(problem: Problem, demand: Demand, phases: int) -> float:
    """The most worth giving: its maximum, capped by what delivers its energy wanted in
    one period (never below its lowest), rounded down into its allowed steps."""
    top = demand.max_current
    if demand.energy_wanted_wh is not None:
        hours = problem.period_s / 3600.0
        needed = max(0.0, demand.energy_wanted_wh) / (problem.voltage * phases * hours)
        top = min(top, max(demand.min_current, needed))
    if demand.allowed_currents is not None:
        below = [a for a in demand.allowed_currents if a <= top]
        top = max(lowest(demand), max(below, default=0.0))
    return top


def next_step(demand: Demand, limit: float) -> float:
    """How much more the session needs to go up at all: a whole step where it has
    steps, a hair otherwise."""
    if demand.allowed_currents is None:
        return TOLERANCE_A * 10
    higher = [a for a in demand.allowed_currents if a > limit + 1e-9]
    return min(higher) - limit if higher else math.inf


def deferred(problem: Problem, demand: Demand) -> bool:
    """A session not charging yet with a deadline it can still make after waiting
    ``DEFER_LAXITY_H`` starts only in what the others leave (deadlines.py)."""
    if demand.departure_at is None or demand.energy_wanted_wh is None:
        return False
    if demand.weight <= 0 or demand.max_current <= 0:
        return False
    if problem.previous is not None:
        earlier = {e.session_id: e for e in problem.previous.sessions}.get(demand.session_id)
        if earlier is not None and earlier.limit_a > 0:
            return False
    phases = len(grid_phases(problem, demand))
    amp_hours = max(0.0, demand.energy_wanted_wh) / (problem.voltage * phases)
    hours = (demand.departure_at - problem.now) / 3600.0
    return hours - amp_hours / demand.max_current >= DEFER_LAXITY_H


def switchable(demand: Demand, phases: tuple[Phase, ...]) -> bool:
    """Only AC sessions on more than one phase can be switched to one."""
    return demand.can_switch_phases and demand.power_type is not PowerType.DC and len(phases) > 1


def check_safety(problem: Problem, plan: Plan) -> None:
    """Rule 1: unmanaged + reserved + sum of limits <= limit on every node and phase;
    a node already full with unmanaged/reserved load carries no session at all."""
    demands = {d.session_id: d for d in problem.demands}
    parts: dict[tuple[str, Phase], list[float]] = {}
    for entry in plan.sessions:
        for node in path_to_root(problem.nodes, demands[entry.session_id].node_id):
            for phase in entry.grid_phases:
                parts.setdefault((node.id, phase), []).append(entry.limit_a)
    for node in problem.nodes:
        for phase in Phase:
            values = parts.get((node.id, phase), [])
            if not any(v > 0 for v in values):
                continue
            held = (node.unmanaged[phase.index], node.reserved[phase.index])
            assert math.fsum(held) < node.limit[phase.index], (node.id, phase, values)
            total = math.fsum((*held, *values))
            assert total <= node.limit[phase.index], (node.id, phase, total, node.limit)


def check_bounds(problem: Problem, plan: Plan) -> None:
    """Rule 2 and the shape of the plan: one entry per demand, in order, 0 or in [min, max]."""
    assert [e.session_id for e in plan.sessions] == [d.session_id for d in problem.demands]
    for demand, entry in zip(problem.demands, plan.sessions, strict=True):
        assert entry.limit_a == 0.0 or (
            demand.min_current <= entry.limit_a <= demand.max_current
        ), (demand, entry)
        if entry.limit_a > 0 and demand.allowed_currents is not None:
            assert entry.limit_a in demand.allowed_currents, (demand, entry)
        assert entry.phases in (1, 3)
        assert entry.phases == (1 if len(entry.grid_phases) == 1 else 3)
        if entry.reason in NOT_ADMITTED:
            assert entry.limit_a == 0.0


def check_phases(problem: Problem, plan: Plan) -> None:
    """Rule 5: grid phases come from composing site -> circuits -> connector; a switched
    session loads the phase its first terminal reaches."""
    for demand, entry in zip(problem.demands, plan.sessions, strict=True):
        expected = grid_phases(problem, demand)
        if entry.reason == "switched_to_1_phase":
            assert switchable(demand, expected)
            assert entry.grid_phases == expected[:1]
        else:
            assert entry.grid_phases == expected, (demand, entry)


def headroom(problem: Problem, plan: Plan) -> dict[tuple[str, Phase], float]:
    demands = {d.session_id: d for d in problem.demands}
    used: dict[tuple[str, Phase], list[float]] = {}
    for entry in plan.sessions:
        for node in path_to_root(problem.nodes, demands[entry.session_id].node_id):
            for phase in entry.grid_phases:
                used.setdefault((node.id, phase), []).append(entry.limit_a)
    room: dict[tuple[str, Phase], float] = {}
    for node in problem.nodes:
        for phase in Phase:
            i = phase.index
            free = node.limit[i] - node.unmanaged[i] - node.reserved[i]
            room[(node.id, phase)] = max(0.0, free) - math.fsum(used.get((node.id, phase), []))
    return room


def resources_of(
    problem: Problem, session_id: str, phases: tuple[Phase, ...]
) -> list[tuple[str, Phase]]:
    demand = next(d for d in problem.demands if d.session_id == session_id)
    return [(n.id, p) for n in path_to_root(problem.nodes, demand.node_id) for p in phases]


def check_admission(problem: Problem, plan: Plan) -> None:
    """Rule 3: a refused session could not have had its minimum, on any phase choice it
    was allowed, next to the minimums of the admitted sessions ranked before it (a
    deferred one: next to what the plan gives everyone)."""
    if problem.previous is not None or problem.max_phase_switches is not None:
        return  # hysteresis and switch caps narrow the choices; tested by example
    entries = {e.session_id: e for e in plan.sessions}
    ranked = sorted(problem.demands, key=rank_key)
    waiting = {d.session_id for d in ranked if deferred(problem, d)}
    by_id = {n.id: n for n in problem.nodes}
    for position, demand in enumerate(ranked):
        if entries[demand.session_id].reason != "below_min_not_admitted":
            continue
        phases = grid_phases(problem, demand)
        smallest = phases[:1] if switchable(demand, phases) else phases
        held: dict[tuple[str, Phase], list[float]] = {}
        if demand.session_id in waiting:
            before = [(d, entries[d.session_id].limit_a) for d in ranked]
        else:
            before = [(d, lowest(d)) for d in ranked[:position] if d.session_id not in waiting]
        for earlier, amps in before:
            entry = entries[earlier.session_id]
            if entry.limit_a > 0:
                for key in resources_of(problem, earlier.session_id, entry.grid_phases):
                    held.setdefault(key, []).append(amps)
        fits = True
        for node_id, phase in resources_of(problem, demand.session_id, smallest):
            node = by_id[node_id]
            i = phase.index
            free = node.limit[i] - node.unmanaged[i] - node.reserved[i]
            # Only a clear fit counts: admission rounds minimums up to a whole µA.
            if math.fsum(held.get((node_id, phase), [])) + lowest(demand) > free - 1e-5:
                fits = False
        assert not fits, f"{demand.session_id} was refused though its minimum fitted"


def check_fairness(problem: Problem, plan: Plan) -> None:
    """Rule 4 without a solver: Pareto (a session below the most worth giving it sits
    in a node phase without room for its next step) and, where no session has a
    deadline or steps, weighted max-min (in one such full node phase nobody who could
    give has more per unit of weight than it)."""
    room = headroom(problem, plan)
    entries = {e.session_id: e for e in plan.sessions}
    demands = {d.session_id: d for d in problem.demands}
    plain = all(
        (d.departure_at is None or d.energy_wanted_wh is None) and d.allowed_currents is None
        for d in problem.demands
    )
    for entry in plan.sessions:
        demand = demands[entry.session_id]
        top = highest(problem, demand, len(entry.grid_phases))
        if entry.reason in NOT_ADMITTED or entry.limit_a >= top - TOLERANCE_A:
            continue
        step = next_step(demand, entry.limit_a)
        full = [
            k
            for k in resources_of(problem, entry.session_id, entry.grid_phases)
            if room[k] < step - TOLERANCE_A
        ]
        assert full, f"{entry.session_id} below its max with room on every phase it uses"
        if not plain:
            continue
        blocked = [
            k
            for k in full
            if not any(_richer(entries[o], entry, demands) for o in _members(problem, plan, k))
        ]
        assert blocked, f"{entry.session_id} could take from a richer session"


def _richer(other: SessionPlan, entry: SessionPlan, demands: dict[str, Demand]) -> bool:
    """Could ``entry`` take from ``other``: same tier (weighted or zero-weight), above its
    minimum, and more per unit of weight."""
    tier = entry.weight > 0
    if other.session_id == entry.session_id or (other.weight > 0) != tier:
        return False
    if other.limit_a <= demands[other.session_id].min_current + TOLERANCE_A:
        return False
    if not tier:
        return other.limit_a > entry.limit_a + TOLERANCE_A
    return other.limit_a / other.weight > entry.limit_a / entry.weight + TOLERANCE_A


def _members(problem: Problem, plan: Plan, key: tuple[str, Phase]) -> list[str]:
    demands = {d.session_id: d for d in problem.demands}
    out = []
    for entry in plan.sessions:
        if key[1] in entry.grid_phases and any(
            n.id == key[0] for n in path_to_root(problem.nodes, demands[entry.session_id].node_id)
        ):
            out.append(entry.session_id)
    return out


def check_all(problem: Problem, plan: Plan) -> None:
    check_bounds(problem, plan)
    check_safety(problem, plan)
    check_phases(problem, plan)
    check_admission(problem, plan)
    check_fairness(problem, plan)
