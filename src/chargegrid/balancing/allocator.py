"""``allocate(problem) -> Plan``: the load manager's decision for one site.

Steps, each a rule of DESIGN.md §2:

1. Number the tree's (node, grid phase) resources; capacity = limit - unmanaged -
   reserved, never below 0.
2. Admission (rules 2, 3, 6): sessions in order of priority weight, then plug-in time,
   then id; each takes the first phase option whose minimum fits next to the minimums
   already admitted, or gets 0.
3. Fairness (rules 4, 7): admitted sessions are water-filled from their minimums,
   weighted by priority x deadline urgency; zero-weight sessions then share what is left.
4. Verification (rule 1): the plan's sums are checked against the real limits; should
   rounding ever overshoot, the lowest-ranked sessions give way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chargegrid.balancing.deadlines import effective_weight
from chargegrid.balancing.model import Demand, Plan, Problem, SessionPlan
from chargegrid.balancing.switching import Option, Wiring, options, wiring
from chargegrid.balancing.tree import (
    MICRO,
    SNAP_MICRO,
    Tree,
    build_tree,
    finite,
    micro_ceil,
    micro_floor,
    node_load,
)
from chargegrid.balancing.waterfill import NO_BOTTLENECK, water_fill
from chargegrid.domain.errors import ErrorCollector, InvalidValue
from chargegrid.domain.phases import Phase

AT_MAX_TOLERANCE_A = 1e-6

REASON_AT_MAX = "at_max"
REASON_FAIR_SHARE = "fair_share"
REASON_NOT_ADMITTED = "below_min_not_admitted"
REASON_MAX_BELOW_MIN = "max_below_min"
REASON_SWITCHED = "switched_to_1_phase"


def rank_key(demand: Demand) -> tuple[float, float, str]:
    """Who keeps charging when minimums do not all fit: priority, then first plugged in,
    then id so the answer never depends on input order."""
    return (-demand.weight, demand.plugged_in_at, demand.session_id)


@dataclass(slots=True)
class _Admitted:
    """An admitted session during allocation; currents in whole µA."""

    demand: Demand
    option: Option
    resources: list[int]
    lo: int
    hi: int
    weight: float


def allocate(problem: Problem) -> Plan:
    tree = build_tree(problem.nodes)
    _check_demands(problem, tree)
    ranked = sorted(problem.demands, key=rank_key)
    previous = {p.session_id: p for p in problem.previous.sessions} if problem.previous else {}
    admitted, refused = _admit(problem, tree, ranked, previous)
    micro, bottlenecks = _share(tree, admitted)
    _fit_micro(tree, admitted, micro)
    values = [
        min(max(v / MICRO, a.demand.min_current), a.demand.max_current) if v else 0.0
        for a, v in zip(admitted, micro, strict=True)
    ]
    loads = _verify(tree, admitted, values)
    return _plan(problem, tree, admitted, refused, values, bottlenecks, loads)


def _check_demands(problem: Problem, tree: Tree) -> None:
    errors = ErrorCollector()
    seen: set[str] = set()
    for i, d in enumerate(problem.demands):
        where = f"demands[{i}]"
        if d.session_id in seen:
            errors.add(f"{where}.session_id", f"duplicate session id {d.session_id!r}")
        seen.add(d.session_id)
        if d.node_id not in tree.index:
            errors.add(f"{where}.node_id", f"unknown node {d.node_id!r}")
        numbers = (d.min_current, d.max_current, d.weight, d.plugged_in_at)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
            for name in ("min_current", "max_current", "weight", "plugged_in_at"):
                finite(getattr(d, name), f"{where}.{name}", errors)
        elif d.weight < 0:
            errors.add(f"{where}.weight", "must be 0 or more")
    errors.raise_if_any()


def _site_available(tree: Tree) -> float:
    """The site's lowest per-phase availability, over the phases it has."""
    root = tree.root
    return min(tree.capacity[root * 3 + p.index] for p in tree.to_grid[root].targets)


_Refused = dict[str, tuple[str, tuple[Phase, ...]]]


def _admit(
    problem: Problem,
    tree: Tree,
    ranked: Sequence[Demand],
    previous: dict[str, SessionPlan],
) -> tuple[list[_Admitted], _Refused]:
    """Greedy admission in rank order, in exact integer µA; returns the admitted
    sessions and, per refused session, its reason and the phases it would load."""
    spare = list(tree.capacity_micro)
    site_available = _site_available(tree)
    admitted: list[_Admitted] = []
    refused: _Refused = {}
    resources_of: dict[tuple[int, tuple[Phase, ...]], list[int]] = {}
    wiring_of: dict[tuple[int, int, int, tuple[int, ...] | None, bool], Wiring] = {}
    # Sessions share a few distinct minimums and maximums.
    lows: dict[float, int] = {}
    highs: dict[float, int] = {}
    for demand in ranked:
        node = tree.index[demand.node_id]
        # Sites repeat a handful of connector layouts; compose each once. Keyed by
        # object identity (rotations and enum members live as long as the problem):
        # hashing the dataclasses is what would cost.
        key = (
            id(tree.to_grid[node]),
            id(demand.rotation),
            id(demand.power_type),
            demand.used_terminals,
            demand.can_switch_phases,
        )
        wires = wiring_of.get(key)
        if wires is None:
            wires = wiring_of[key] = wiring(tree.to_grid[node], demand)
        lo = lows.get(demand.min_current)
        if lo is None:
            lo = lows[demand.min_current] = micro_ceil(max(0.0, demand.min_current))
        hi = highs.get(demand.max_current)
        if hi is None:
            hi = highs[demand.max_current] = micro_floor(max(0.0, demand.max_current))
        if hi < lo or demand.max_current < demand.min_current:
            refused[demand.session_id] = (REASON_MAX_BELOW_MIN, wires.full)
            continue
        chosen: tuple[Option, list[int]] | None = None
        previous_plan = previous.get(demand.session_id)
        for option in options(wires, demand, problem, previous_plan, site_available):
            place = (node, option.phases)
            resources = resources_of.get(place)
            if resources is None:
                resources = resources_of[place] = tree.resources(node, option.phases)
            need = lo + micro_ceil(option.margin)
            if all(spare[r] >= need for r in resources):
                chosen = (option, resources)
                break
        if chosen is None:
            refused[demand.session_id] = (REASON_NOT_ADMITTED, wires.full)
            continue
        option, resources = chosen
        for r in resources:
            spare[r] -= lo
        weight = (
            demand.weight
            if demand.departure_at is None
            else effective_weight(demand, problem.now, len(option.phases), problem.voltage)
        )
        admitted.append(_Admitted(demand, option, resources, lo, hi, weight))
    return admitted, refused


def _share(tree: Tree, admitted: list[_Admitted]) -> tuple[list[int], list[int]]:
    """Water-fill the weighted sessions, then the zero-weight ones in what is left;
    results are floored to whole µA (never above what the fill gave)."""
    micro = [a.lo for a in admitted]
    bottlenecks = [NO_BOTTLENECK] * len(admitted)
    spare = list(tree.capacity_micro)
    for a in admitted:
        for r in a.resources:
            spare[r] -= a.lo
    for tier in (
        [i for i, a in enumerate(admitted) if a.weight > 0.0],
        [i for i, a in enumerate(admitted) if a.weight <= 0.0],
    ):
        if not tier:
            continue
        result = water_fill(
            [float(s) for s in spare],
            [admitted[i].resources for i in tier],
            [float(admitted[i].lo) for i in tier],
            [float(admitted[i].hi) for i in tier],
            [admitted[i].weight if admitted[i].weight > 0.0 else 1.0 for i in tier],
        )
        for j, i in enumerate(tier):
            a = admitted[i]
            micro[i] = min(a.hi, max(a.lo, math.floor(result.values[j] + SNAP_MICRO)))
            bottlenecks[i] = result.bottleneck[j]
            extra = micro[i] - a.lo
            if extra > 0:
                for r in a.resources:
                    spare[r] -= extra
    return micro, bottlenecks


def _fit_micro(tree: Tree, admitted: list[_Admitted], micro: list[int]) -> None:
    """Exact integer check of every resource; snapping a fill result up to a whole µA can
    overshoot by a µA or two, which the lowest-ranked sessions give back."""
    load = [0] * tree.resource_count
    for a, v in zip(admitted, micro, strict=True):
        for r in a.resources:
            load[r] += v
    for r, value in enumerate(load):
        excess = value - tree.capacity_micro[r]
        if excess <= 0:
            continue
        for i in reversed(range(len(admitted))):
            a = admitted[i]
            if r not in a.resources or micro[i] <= a.lo:
                continue
            cut = min(excess, micro[i] - a.lo)
            micro[i] -= cut
            excess -= cut
            for other in a.resources:
                load[other] -= cut
            if excess <= 0:
                break


def _verify(tree: Tree, admitted: list[_Admitted], values: list[float]) -> list[float]:
    """Belt and braces for rule 1, in the floats the plan carries: exact sums against
    the real capacities. The integer grid makes an overshoot all but impossible; should
    one show up, sessions give way from the lowest rank up (first what they have above
    their minimum, then entirely)."""
    while True:
        parts: list[list[float]] = [[] for _ in range(tree.resource_count)]
        for a, value in zip(admitted, values, strict=True):
            if value > 0.0:
                for r in a.resources:
                    parts[r].append(value)
        over = next(
            ((r, e) for r in _suspects(tree, parts) if (e := tree.overshoot(r, parts[r])) > 0),
            None,
        )
        if over is None:
            return [math.fsum(p) for p in parts]
        resource, excess = over
        carriers = [i for i, a in enumerate(admitted) if resource in a.resources and values[i] > 0]
        for i in reversed(carriers):
            room = values[i] - admitted[i].demand.min_current
            cut = min(room, excess + 1.0 / MICRO)
            if cut > 0.0:
                values[i] -= cut
                excess -= cut
            if excess < 0.0:
                break
        if excess >= 0.0:
            values[carriers[-1]] = 0.0


def _suspects(tree: Tree, parts: list[list[float]]) -> list[int]:
    """Resources whose plain float sum comes within a hair of the limit; only these need
    the exact (slower) check. Float sums of a few thousand terms err by far less."""
    suspects = []
    for r, values in enumerate(parts):
        if values:
            unmanaged, reserved = tree.held[r]
            if sum(values) + unmanaged + reserved >= tree.limit[r] - 1e-6:
                suspects.append(r)
    return suspects


def _plan(
    problem: Problem,
    tree: Tree,
    admitted: list[_Admitted],
    refused: _Refused,
    values: list[float],
    bottlenecks: list[int],
    loads: list[float],
) -> Plan:
    by_id: dict[str, SessionPlan] = {}
    # Many sessions share a bottleneck; describe each resource once.
    described: dict[int, tuple[tuple[str, Phase], str]] = {}
    for a, value, bottleneck in zip(admitted, values, bottlenecks, strict=True):
        where: tuple[str, Phase] | None = None
        limited = ""
        if bottleneck != NO_BOTTLENECK:
            known = described.get(bottleneck)
            if known is None:
                known = described[bottleneck] = _describe(tree, bottleneck)
            where, limited = known
        by_id[a.demand.session_id] = SessionPlan(
            session_id=a.demand.session_id,
            limit_a=value,
            phases=1 if len(a.option.phases) == 1 else 3,
            grid_phases=a.option.phases,
            reason=_reason(a, value, limited),
            bottleneck=where,
            weight=a.weight,
        )
    for session_id, (reason, phases) in refused.items():
        by_id[session_id] = SessionPlan(
            session_id=session_id,
            limit_a=0.0,
            phases=1 if len(phases) == 1 else 3,
            grid_phases=phases,
            reason=reason,
        )
    sessions = tuple(by_id[d.session_id] for d in problem.demands)
    nodes = tuple(node_load(tree, i, loads) for i in range(len(tree.nodes)))
    return Plan(sessions=sessions, nodes=nodes)


def _describe(tree: Tree, resource: int) -> tuple[tuple[str, Phase], str]:
    node_id, phase = tree.describe(resource)
    if resource // 3 == tree.root:
        return (node_id, phase), REASON_FAIR_SHARE
    return (node_id, phase), f"limited_by:{node_id}/{phase.name}"


def _reason(a: _Admitted, value: float, limited: str) -> str:
    if value <= 0.0 and a.lo > 0:
        return REASON_NOT_ADMITTED
    if a.option.switched:
        return REASON_SWITCHED
    if value >= a.demand.max_current - AT_MAX_TOLERANCE_A or not limited:
        return REASON_AT_MAX
    return limited


def check_plan(problem: Problem, plan: Plan) -> None:
    """Raise ``InvalidValue`` if ``plan`` breaks rule 1 or 2 for ``problem``: used by the
    control loop before sending anything, and by the tests."""
    tree = build_tree(problem.nodes)
    errors = ErrorCollector()
    parts: list[list[float]] = [[] for _ in range(tree.resource_count)]
    demands = {d.session_id: d for d in problem.demands}
    for entry in plan.sessions:
        demand = demands[entry.session_id]
        if entry.limit_a != 0.0 and not (demand.min_current <= entry.limit_a <= demand.max_current):
            errors.add(entry.session_id, f"limit {entry.limit_a} outside [min, max] and not 0")
        for r in tree.resources(tree.index[demand.node_id], entry.grid_phases):
            parts[r].append(entry.limit_a)
    for r, values in enumerate(parts):
        excess = tree.overshoot(r, values)
        if excess > 0.0:
            node_id, phase = tree.describe(r)
            errors.add(f"{node_id}/{phase.name}", f"{excess} A over its limit")
    if errors.errors:
        raise InvalidValue(errors.errors)
