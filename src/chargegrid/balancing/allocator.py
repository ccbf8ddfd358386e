"""``allocate(problem) -> Plan``: the load manager's decision for one site.

Steps, each a rule of DESIGN.md §2:

1. Number the tree's (node, grid phase) resources; capacity = limit - unmanaged -
   reserved, never below 0.
2. Admission (rules 2, 3, 6): sessions charging under the plan in force first, then the
   others; each group in order of priority weight, then plug-in time, then id. Each
   takes the first phase option whose minimum fits next to the minimums already
   admitted, or gets 0: a car that charges is never stopped for one that plugged in
   earlier or later.
3. Shares (rules 4, 7): admitted sessions are water-filled from their minimums, capped
   by what their energy wanted needs in one period. Without deadlines: weighted max-min
   fair. With deadlines: sessions without one first get their fair share as a floor,
   sessions with one are filled by least laxity (deadlines.py), then the others rise
   from their floor in what is left; zero-weight sessions share the rest.
4. Allowed currents: sessions whose charger accepts only some currents are rounded down
   into them; what that frees goes to others (steps up, lowest share first, then the
   continuous sessions).
5. Verification (rule 1): the plan's sums are checked against the real limits; should
   rounding ever overshoot, the lowest-ranked sessions give way.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from operator import attrgetter, ge

from chargegrid.balancing.deadlines import (
    DEFER_LAXITY_H,
    FLOOR_SHARE,
    RELAXED_LAXITY_H,
    RELAXED_PACE_A,
    energy_cap,
    laxity_curve,
    laxity_hours,
)
from chargegrid.balancing.model import Demand, Plan, Problem, SessionPlan, make_session_plans
from chargegrid.balancing.rows import Layout
from chargegrid.balancing.subtrees import Subtrees, runs_of
from chargegrid.balancing.switching import Option, Wired, option, options, wiring
from chargegrid.balancing.tree import (
    MICRO,
    SNAP_MICRO,
    Tree,
    build_tree,
    finite,
    micro_ceil,
    micro_floor,
    node_loads,
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


class _Admitted:
    """The admitted sessions during allocation, column by column (one list per field,
    in rank order; currents in whole µA): a thousand small objects per call would cost
    more than the arithmetic."""

    __slots__ = (
        "demand",
        "hi",
        "laxity",
        "lo",
        "node",
        "option",
        "position",
        "resources",
        "weight",
    )

    def __init__(self) -> None:
        self.demand: list[Demand] = []
        # Where each sits among the problem's demands (the plan keeps their order).
        self.position: list[int] = []
        self.node: list[int] = []
        self.option: list[Option] = []
        # Every resource the session loads, its own node's first.
        self.resources: list[list[int]] = []
        self.lo: list[int] = []
        self.hi: list[int] = []
        # Priority weight.
        self.weight: list[float] = []
        # Hours of laxity for a session with a deadline (and a weight), else None.
        self.laxity: list[float | None] = []

    def __len__(self) -> int:
        return len(self.demand)


def allocate(problem: Problem) -> Plan:
    tree = build_tree(problem.nodes)
    columns = _Columns(problem.demands)
    _check_demands(problem, tree, columns)
    previous = {p.session_id: p for p in problem.previous.sessions} if problem.previous else {}
    order = _ranked(columns, previous)
    admitted, spare = _Admitted(), list(tree.capacity_micro)
    refused: _Refused = []
    deferred = _admit(problem, tree, columns, order, previous, admitted, refused, spare)
    runs = runs_of(tree.shape, admitted.node, admitted.option)
    micro, bottlenecks = _share(tree, admitted, runs, spare)
    if deferred:
        # Cars that can wait start only in what the others leave, least lax first.
        first = len(admitted)
        _admit(problem, tree, columns, deferred, previous, admitted, refused, spare, defer=False)
        if len(admitted) > first:
            late = list(range(first, len(admitted)))
            micro += admitted.lo[first:]
            bottlenecks += [NO_BOTTLENECK] * len(late)
            runs = runs_of(tree.shape, admitted.node, admitted.option)
            _fill(tree, admitted, late, runs, micro, spare, bottlenecks, by_laxity=True)
    if any(d.allowed_currents is not None for d in admitted.demand):
        _fit_steps(tree, admitted, runs, micro, spare, bottlenecks)
    _fit_micro(admitted, micro, spare)
    values = [
        min(max(v / MICRO, d.min_current), d.max_current) if v else 0.0
        for d, v in zip(admitted.demand, micro, strict=True)
    ]
    if tree.rows is not None:  # a wired network (balancing.rows)
        tree.rows.repair(_layouts(admitted), values)
    loads = _verify(tree, admitted, runs, values)
    if tree.rows is not None:
        tree.rows.report(loads, _layouts(admitted), values)
    return _plan(tree, columns, admitted, refused, values, bottlenecks, loads)


_session_id = attrgetter("session_id")
_node_id = attrgetter("node_id")
_weight = attrgetter("weight")
_plugged_in_at = attrgetter("plugged_in_at")
_min_current = attrgetter("min_current")
_max_current = attrgetter("max_current")
_PLAIN_NUMBERS = frozenset((float, int))


class _Columns:
    """The demands' fields the steps look at, as lists taken once (the loops in C)."""

    __slots__ = ("max_current", "min_current", "node_id", "plugged_in_at", "session_id", "weight")

    def __init__(self, demands: Sequence[Demand]) -> None:
        self.session_id: list[str] = list(map(_session_id, demands))
        self.node_id: list[str] = list(map(_node_id, demands))
        self.min_current: list[float] = list(map(_min_current, demands))
        self.max_current: list[float] = list(map(_max_current, demands))
        self.weight: list[float] = list(map(_weight, demands))
        self.plugged_in_at: list[float] = list(map(_plugged_in_at, demands))


def _check_demands(problem: Problem, tree: Tree, columns: _Columns) -> None:
    demands = problem.demands
    ids = columns.session_id
    numbers = [
        *columns.min_current,
        *columns.max_current,
        *columns.weight,
        *columns.plugged_in_at,
    ]
    # The common all-good case in a few whole-list checks; anything odd (a duplicate,
    # an unknown node, a bool or NaN, a negative weight) takes the field-by-field path
    # below, which names every bad field.
    try:
        fine = (
            len(set(ids)) == len(ids)
            and tree.index.keys() >= set(columns.node_id)
            and _PLAIN_NUMBERS.issuperset(map(type, numbers))
            and math.isfinite(sum(numbers))
            and min(columns.weight, default=0.0) >= 0
        )
    except (OverflowError, TypeError):
        fine = False
    if fine:
        return
    errors = ErrorCollector()
    seen: set[str] = set()
    for i, d in enumerate(demands):
        where = f"demands[{i}]"
        if d.session_id in seen:
            errors.add(f"{where}.session_id", f"duplicate session id {d.session_id!r}")
        seen.add(d.session_id)
        if d.node_id not in tree.index:
            errors.add(f"{where}.node_id", f"unknown node {d.node_id!r}")
        values = (d.min_current, d.max_current, d.weight, d.plugged_in_at)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            for name in ("min_current", "max_current", "weight", "plugged_in_at"):
                finite(getattr(d, name), f"{where}.{name}", errors)
        elif d.weight < 0:
            errors.add(f"{where}.weight", "must be 0 or more")
    errors.raise_if_any()


def _ranked(columns: _Columns, previous: dict[str, SessionPlan]) -> list[int]:
    """The demands' positions in admission order: sessions charging under the plan in
    force first (a car that charges keeps its place, whoever plugs in), each group in
    ``rank_key`` order; as stable C-level sorts, least significant key first
    (``reverse=True`` keeps equal weights in their order)."""
    ids = columns.session_id
    order = sorted(range(len(ids)), key=ids.__getitem__)
    order.sort(key=columns.plugged_in_at.__getitem__)
    order.sort(key=columns.weight.__getitem__, reverse=True)
    if previous:
        waiting = [(p := previous.get(ids[i])) is None or p.limit_a <= 0.0 for i in range(len(ids))]
        order.sort(key=waiting.__getitem__)
    return order


def _site_available(tree: Tree) -> float:
    """The site's lowest per-phase availability, over the phases it has."""
    root = tree.root
    return min(tree.capacity[root * 3 + p.index] for p in tree.to_grid[root].targets)


# Per refused session: its position among the demands, the reason, the phases it would
# load.
_Refused = list[tuple[int, str, tuple[Phase, ...]]]


def _wired_key(node: int, demand: Demand) -> tuple[object, ...]:
    # Enum members are singletons: their identity is a cheaper key than their hash.
    return (
        node,
        demand.rotation.targets,
        id(demand.power_type),
        demand.used_terminals,
        demand.can_switch_phases,
        demand.line_to_line,
    )


def _wired(tree: Tree, node: int, demand: Demand) -> Wired:
    """The demand's connector layout at ``node``, composed once per topology."""
    key = _wired_key(node, demand)
    shape = tree.shape
    found = shape.wired.get(key)
    if found is None:
        # Nodes wired alike (same rotation to the grid) share the composition.
        to_grid = tree.to_grid[node]
        layout = (to_grid.targets, *key[1:])
        wires = shape.layouts.get(layout)
        if wires is None:
            wires = shape.layouts[layout] = wiring(to_grid, demand)
        found = shape.wired[key] = Wired(
            wires,
            option(wires.full, switched=False),
            tree.resources(node, wires.full),
            None if wires.one is None else option(wires.one, switched=True),
            [] if wires.one is None else tree.resources(node, wires.one),
        )
    return found


def _admit(
    problem: Problem,
    tree: Tree,
    columns: _Columns,
    order: list[int],
    previous: dict[str, SessionPlan],
    admitted: _Admitted,
    refused: _Refused,
    spare: list[int],
    *,
    defer: bool = True,
) -> list[int]:
    """Greedy admission in rank order, in exact integer µA, into ``admitted`` (per
    refused session its reason and the phases it would load into ``refused``); each
    admitted minimum is taken from ``spare``. Returns the sessions deferred (not
    charging yet, with a deadline they can still make when starting later,
    ``DEFER_LAXITY_H``: they start only in what the others leave), by priority, then
    least laxity first."""
    at = spare.__getitem__
    book = tree.rows
    site_available = _site_available(tree)
    # (-priority, laxity, rank, position) of each session deferred.
    deferred: list[tuple[float, float, int, int]] = []
    # Sessions charging on one phase that may go back up: (index, option, layout, max).
    upgrades: list[tuple[int, Option, Wired, int]] = []
    ranked = list(map(problem.demands.__getitem__, order))
    # Sessions share a few distinct minimums and maximums: convert each once.
    minimums = list(map(columns.min_current.__getitem__, order))
    maximums = list(map(columns.max_current.__getitem__, order))
    lows = {m: micro_ceil(max(0.0, m)) for m in set(minimums)}
    highs = {m: micro_floor(max(0.0, m)) for m in set(maximums)}
    his = list(map(highs.__getitem__, maximums))
    nodes = list(map(tree.index.__getitem__, map(columns.node_id.__getitem__, order)))
    now, voltage = problem.now, problem.voltage
    wired_of = tree.shape.wired
    # A switchable session with no plan in force, switches left and no reason to go
    # down to 1 phase is offered 3 phases, then 1 (see ``switching.options``): the
    # common case, answered without building the list.
    threshold, cap = problem.three_to_one_phase_switch_current, problem.max_phase_switches
    may_stay_up = threshold is None or site_available >= threshold
    for position, demand, node, lo, hi in zip(
        order, ranked, nodes, map(lows.__getitem__, minimums), his, strict=True
    ):
        wired = wired_of.get(_wired_key(node, demand)) or _wired(tree, node, demand)
        steps = demand.allowed_currents
        if steps is not None:
            lo, hi = _step_bounds(steps, demand)
        if hi < lo or demand.max_current < demand.min_current:
            refused.append((position, REASON_MAX_BELOW_MIN, wired.wiring.full))
            continue
        if (
            defer
            and demand.departure_at is not None
            and demand.energy_wanted_wh is not None
            and demand.weight > 0.0
            and demand.max_current > 0.0
            and ((p := previous.get(demand.session_id)) is None or p.limit_a <= 0.0)
            and (slack := laxity_hours(demand, now, len(wired.wiring.full), voltage))
            >= DEFER_LAXITY_H
        ):
            deferred.append((-demand.weight, slack, len(deferred), position))
            continue
        chosen: Option | None = None
        if wired.one is None:
            # Not switchable: its phases as they are (by far the common case).
            resources = wired.full_resources
            if min(map(at, resources)) >= lo and (
                book is None or book.fits(node, wired.full.phases, demand, lo)
            ):
                chosen = wired.full
        else:
            previous_plan = previous.get(demand.session_id) if previous else None
            if (
                previous_plan is None
                and may_stay_up
                and (cap is None or demand.phase_switches < cap)
            ):
                choices: Sequence[Option] = (wired.full, wired.one)
            else:
                choices = options(wired.wiring, demand, problem, previous_plan, site_available)
                if (
                    len(choices) > 1
                    and previous_plan is not None
                    and previous_plan.limit_a > 0.0
                    and len(previous_plan.grid_phases) == 1
                ):
                    # Charging on one phase: it keeps that now and goes back up only in
                    # what is left once everyone is in, so its switch can never push
                    # out another charging car.
                    upgrades.append((len(admitted), choices[0], wired, hi))
                    choices = choices[1:]
            for choice in choices:
                # An option loads either all the session's phases or its first one only.
                resources = wired.full_resources if len(choice.phases) > 1 else wired.one_resources
                need = lo + micro_ceil(choice.margin) if choice.margin else lo
                if min(map(at, resources)) >= need and (
                    book is None or book.fits(node, choice.phases, demand, need)
                ):
                    chosen = choice
                    break
        if chosen is None:
            refused.append((position, REASON_NOT_ADMITTED, wired.wiring.full))
            continue
        for r in resources:
            spare[r] -= lo
        if book is not None:
            book.take(node, chosen.phases, demand, lo)
        admitted.demand.append(demand)
        admitted.position.append(position)
        admitted.node.append(node)
        admitted.option.append(chosen)
        admitted.resources.append(resources)
        hi, laxity = _wanted(demand, lo, hi, len(chosen.phases), problem)
        admitted.lo.append(lo)
        admitted.hi.append(hi)
        admitted.weight.append(demand.weight)
        admitted.laxity.append(laxity)
    for i, up, wired, hi in upgrades:
        _switch_back_up(problem, tree, admitted, spare, i, up, wired, hi)
    # The least lax first (by priority first): they have the least time to spare.
    return [entry[3] for entry in sorted(deferred)]


def _wanted(
    demand: Demand, lo: int, hi: int, phases: int, problem: Problem
) -> tuple[int, float | None]:
    """The session's highest worthwhile current (its energy wanted caps it) and its
    laxity (hours; None without a deadline or a weight)."""
    if demand.energy_wanted_wh is None:
        return hi, None
    worth = energy_cap(demand, phases, problem.voltage, problem.period_s)
    hi = max(lo, min(hi, _round_down(worth, demand.allowed_currents)))
    if demand.departure_at is None or demand.weight <= 0.0:
        return hi, None
    return hi, laxity_hours(demand, problem.now, phases, problem.voltage)


def _switch_back_up(
    problem: Problem,
    tree: Tree,
    admitted: _Admitted,
    spare: list[int],
    i: int,
    up: Option,
    wired: Wired,
    hi: int,
) -> None:
    """Session ``i`` charges on one phase and may go back to all its phases: it does if
    its minimum (plus the hysteresis margin) fits on them in what is left."""
    lo, node, demand, book = admitted.lo[i], admitted.node[i], admitted.demand[i], tree.rows
    for r in admitted.resources[i]:
        spare[r] += lo
    if book is not None:
        book.take(node, admitted.option[i].phases, demand, -lo)
    need = lo + micro_ceil(up.margin)
    if min(spare[r] for r in wired.full_resources) >= need and (
        book is None or book.fits(node, up.phases, demand, need)
    ):
        admitted.option[i] = up
        admitted.resources[i] = wired.full_resources
        admitted.hi[i], admitted.laxity[i] = _wanted(demand, lo, hi, len(up.phases), problem)
    for r in admitted.resources[i]:
        spare[r] -= lo
    if book is not None:
        book.take(node, admitted.option[i].phases, demand, lo)


def _round_down(amps: float, steps: tuple[float, ...] | None) -> int:
    """``amps`` in whole µA, rounded down into ``steps`` where the charger has them
    (0 when none is low enough)."""
    if steps is None:
        return micro_floor(amps)
    below = [s for s in steps if s <= amps]
    return micro_floor(max(below)) if below else 0


def _step_bounds(steps: tuple[float, ...], demand: Demand) -> tuple[int, int]:
    """(lowest, highest) allowed current in [min, max] in whole µA; (1, 0) when none."""
    inside = [s for s in steps if s > 0.0 and demand.min_current <= s <= demand.max_current]
    if not inside:
        return 1, 0
    return micro_ceil(min(inside)), micro_floor(max(inside))


def _share(
    tree: Tree, admitted: _Admitted, runs: Subtrees, spare: list[int]
) -> tuple[list[int], list[int]]:
    """Fill the admitted sessions from their minimums in tiers (module docstring, step
    3); results are floored to whole µA (never above what the fill gave). ``spare``
    (what each resource holds above the minimums) is kept up to date: it ends as
    capacity minus load."""
    weights, laxity = admitted.weight, admitted.laxity
    micro = list(admitted.lo)
    bottlenecks = [NO_BOTTLENECK] * len(admitted)
    weighted = [i for i, w in enumerate(weights) if w > 0.0]
    idle = [i for i, w in enumerate(weights) if w <= 0.0]
    urgent = [i for i in weighted if laxity[i] is not None]
    if not urgent:
        _fill(tree, admitted, weighted, runs, micro, spare, bottlenecks)
    else:
        relaxed = [i for i in weighted if laxity[i] is None]
        if relaxed:
            # Their floor: a share of what they would have if nobody had a deadline.
            _fill(tree, admitted, weighted, runs, micro, spare, bottlenecks, keep=relaxed)
            for i in relaxed:
                floor = max(admitted.lo[i], math.floor(micro[i] * FLOOR_SHARE))
                for r in admitted.resources[i]:
                    spare[r] += micro[i] - floor
                micro[i] = floor
        _fill(tree, admitted, weighted, runs, micro, spare, bottlenecks, by_laxity=True)
    _fill(tree, admitted, idle, runs, micro, spare, bottlenecks)
    return micro, bottlenecks


def _fill(
    tree: Tree,
    admitted: _Admitted,
    tier: list[int],
    runs: Subtrees,
    micro: list[int],
    spare: list[int],
    bottlenecks: list[int],
    *,
    by_laxity: bool = False,
    keep: list[int] | None = None,
) -> None:
    """Raise ``tier`` from where it is (``micro``) in what ``spare`` holds: weighted
    max-min fair (zero weights count as 1), or by least laxity. Only the sessions in
    ``keep`` (default: all of the tier) take their result."""
    if not tier:
        return
    hi, weights, members = admitted.hi, admitted.weight, admitted.resources
    tier_runs = (
        runs
        if len(tier) == len(admitted)
        else Subtrees(
            tree.shape, [admitted.node[i] for i in tier], [admitted.option[i] for i in tier]
        )
    )
    slopes = [weights[i] if weights[i] > 0.0 else 1.0 for i in tier]
    offsets: list[float] | None = None
    if by_laxity:
        laxities = [admitted.laxity[i] for i in tier]
        curves = [
            # Without a deadline: one common pace (max-min fair among them by weight).
            laxity_curve(RELAXED_PACE_A * MICRO, RELAXED_LAXITY_H, slope)
            if laxity is None
            else laxity_curve(admitted.demand[i].max_current * MICRO, laxity, slope)
            for i, laxity, slope in zip(tier, laxities, slopes, strict=True)
        ]
        slopes = [c[0] for c in curves]
        offsets = [c[1] for c in curves]
    book = tree.rows
    room, loading = list(map(float, spare)), [members[i] for i in tier]
    carriers: Callable[[int], Iterable[int]] = tier_runs.carriers
    scale = None
    if book is not None:
        layouts = _layouts(admitted)
        room, loading, scale, carriers = book.widen(
            room, loading, [layouts[i] for i in tier], carriers
        )
    result = water_fill(
        room,
        loading,
        [float(micro[i]) for i in tier],
        [float(hi[i]) for i in tier],
        slopes,
        carriers,
        offsets,
        scale=scale,
    )
    taking = None if keep is None else set(keep)
    for j, i in enumerate(tier):
        if taking is not None and i not in taking:
            continue
        start = micro[i]
        value = min(hi[i], max(start, math.floor(result.values[j] + SNAP_MICRO)))
        micro[i] = value
        bottlenecks[i] = result.bottleneck[j]
        extra = value - start
        if extra > 0 and book is not None:
            book.take(admitted.node[i], admitted.option[i].phases, admitted.demand[i], extra)
        if extra > 0:
            for r in members[i]:
                spare[r] -= extra


def _fit_steps(
    tree: Tree,
    admitted: _Admitted,
    runs: Subtrees,
    micro: list[int],
    spare: list[int],
    bottlenecks: list[int],
) -> None:
    """Round sessions whose charger accepts only some currents down into them, then
    hand what that freed on: steps up where a whole step fits (lowest share per weight
    first, again until none fits), then the continuous sessions rise in what is left."""
    members, hi, weights = admitted.resources, admitted.hi, admitted.weight
    book = tree.rows  # a wired network's phasor rows (balancing.rows), or None
    stepped: list[tuple[int, list[int]]] = []
    for i, demand in enumerate(admitted.demand):
        steps = demand.allowed_currents
        if steps is None:
            continue
        ladder = sorted(
            {micro_floor(a) for a in steps if admitted.lo[i] <= micro_floor(a) <= hi[i]}
        )
        below = [a for a in ladder if a <= micro[i]]
        value = below[-1] if below else admitted.lo[i]
        freed = micro[i] - value
        if freed:
            micro[i] = value
            for r in members[i]:
                spare[r] += freed
            if book is not None:
                book.take(admitted.node[i], admitted.option[i].phases, demand, -freed)
        stepped.append((i, ladder))
    # Lowest share per weight first, one step at a time. Spare only shrinks while steps
    # are taken, so a session whose next step does not fit now never will: it leaves.
    queue = [(micro[i] / max(weights[i], 1e-9), i, ladder) for i, ladder in stepped]
    heapq.heapify(queue)
    while queue:
        _, i, ladder = heapq.heappop(queue)
        higher = [a for a in ladder if a > micro[i]]
        if not higher:
            continue
        step = higher[0] - micro[i]
        node, phases, demand = admitted.node[i], admitted.option[i].phases, admitted.demand[i]
        if min(spare[r] for r in members[i]) >= step and (
            book is None or book.fits(node, phases, demand, step)
        ):
            micro[i] += step
            for r in members[i]:
                spare[r] -= step
            if book is not None:
                book.take(node, phases, demand, step)
            heapq.heappush(queue, (micro[i] / max(weights[i], 1e-9), i, ladder))
    continuous = [i for i, d in enumerate(admitted.demand) if d.allowed_currents is None]
    if len(continuous) < len(admitted):
        _fill(tree, admitted, continuous, runs, micro, spare, bottlenecks)


def _fit_micro(admitted: _Admitted, micro: list[int], spare: list[int]) -> None:
    """Exact integer check of every resource; snapping a fill result up to a whole µA can
    overshoot by a µA or two, which the lowest-ranked sessions give back. ``spare`` is
    capacity minus load, so only resources below 0 are over."""
    for r in [r for r, left in enumerate(spare) if left < 0]:
        excess = -spare[r]
        if excess <= 0:
            continue  # an earlier give-back already fixed it
        for i in reversed(range(len(admitted))):
            resources = admitted.resources[i]
            if r not in resources or micro[i] <= admitted.lo[i]:
                continue
            cut = min(excess, micro[i] - admitted.lo[i])
            micro[i] -= cut
            excess -= cut
            for other in resources:
                spare[other] += cut
            if excess <= 0:
                break


def _verify(tree: Tree, admitted: _Admitted, runs: Subtrees, values: list[float]) -> list[float]:
    """Belt and braces for rule 1, in the floats the plan carries: exact sums against
    the real capacities. The integer grid makes an overshoot all but impossible; should
    one show up, sessions give way from the lowest rank up (first what they have above
    their minimum, then entirely). Returns the exact load on every resource."""
    while True:
        columns = runs.columns(values)
        loads = runs.loads(columns)
        # Only resources whose load comes near their free current need the exact check
        # with the held load counted too.
        near = compress(range(len(loads)), map(ge, loads, tree.values.suspect_at))
        over = next(
            ((r, e) for r in near if (e := tree.overshoot(r, runs.parts(columns, r))) > 0),
            None,
        )
        if over is None:
            return loads
        resource, excess = over
        carriers = [
            i for i, rs in enumerate(admitted.resources) if resource in rs and values[i] > 0
        ]
        for i in reversed(carriers):
            room = values[i] - admitted.demand[i].min_current
            cut = min(room, excess + 1.0 / MICRO)
            if cut > 0.0:
                values[i] -= cut
                excess -= cut
            if excess < 0.0:
                break
        if excess >= 0.0:
            values[carriers[-1]] = 0.0


def _plan(
    tree: Tree,
    columns: _Columns,
    admitted: _Admitted,
    refused: _Refused,
    values: list[float],
    bottlenecks: list[int],
    loads: list[float],
) -> Plan:
    """The plan, built column by column in the problem's demand order."""
    ids = columns.session_id
    count = len(ids)
    limit_a = [0.0] * count
    phases = [3] * count
    grid_phases: list[tuple[Phase, ...]] = [()] * count
    reasons = [""] * count
    where: list[tuple[str, Phase] | None] = [None] * count
    weights = [1.0] * count
    # Many sessions share a bottleneck; describe each resource once.
    described: dict[int, tuple[tuple[str, Phase], str]] = {}
    for at, demand, chosen, lo, weight, value, bottleneck in zip(
        admitted.position,
        admitted.demand,
        admitted.option,
        admitted.lo,
        admitted.weight,
        values,
        bottlenecks,
        strict=True,
    ):
        limited = ""
        if bottleneck != NO_BOTTLENECK:
            known = described.get(bottleneck)
            if known is None:
                known = described[bottleneck] = _describe(tree, bottleneck)
            where[at], limited = known
        if value <= 0.0 and lo > 0:
            reasons[at] = REASON_NOT_ADMITTED
        elif chosen.switched:
            reasons[at] = REASON_SWITCHED
        elif value >= demand.max_current - AT_MAX_TOLERANCE_A or not limited:
            reasons[at] = REASON_AT_MAX
        else:
            reasons[at] = limited
        limit_a[at] = value
        grid_phases[at] = chosen.phases
        if len(chosen.phases) == 1 or demand.line_to_line:
            phases[at] = 1
        weights[at] = weight
    for at, reason, on in refused:
        reasons[at] = reason
        grid_phases[at] = on
        if len(on) == 1:
            phases[at] = 1
    return Plan(
        sessions=make_session_plans(ids, limit_a, phases, grid_phases, reasons, where, weights),
        nodes=node_loads(tree, loads),
    )


def _layouts(admitted: _Admitted) -> list[Layout]:
    """Each admitted session's node, grid phases and demand (for ``balancing.rows``)."""
    return [
        (node, chosen.phases, demand)
        for node, chosen, demand in zip(
            admitted.node, admitted.option, admitted.demand, strict=True
        )
    ]


def _describe(tree: Tree, resource: int) -> tuple[tuple[str, Phase], str]:
    if tree.rows is not None and resource >= tree.rows.base:
        node, line, kind = tree.rows.describe(resource)
        node_id = tree.nodes[node].id
        if node == tree.root and not kind:
            return (node_id, line), REASON_FAIR_SHARE
        return (node_id, line), f"limited_by:{node_id}/{kind}{line.name}"
    node_id, phase = tree.describe(resource)
    if resource // 3 == tree.root:
        return (node_id, phase), REASON_FAIR_SHARE
    return (node_id, phase), f"limited_by:{node_id}/{phase.name}"


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
    if tree.rows is not None:
        layouts = [
            (tree.index[demands[e.session_id].node_id], e.grid_phases, demands[e.session_id])
            for e in plan.sessions
        ]
        values = [e.limit_a for e in plan.sessions]
        for where, what in tree.rows.check(tree.shape.ids, layouts, values):
            errors.add(where, what)
    if errors.errors:
        raise InvalidValue(errors.errors)
