"""Random sites and sessions for the allocator's property tests, and an independent
reading of a plan (loads per node and phase) that does not reuse the allocator's code."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import strategies as st

from chargegrid.balancing import Demand, Node, Plan, Problem
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import IDENTITY, Phase, PhaseRotation, compose

LETTERS = "RST"


@st.composite
def rotations(draw: st.DrawFn, parent_phases: int, max_phases: int = 3) -> PhaseRotation:
    """A rotation whose conductors all land on phases a ``parent_phases`` parent has."""
    count = draw(st.integers(1, min(max_phases, parent_phases)))
    letters = draw(st.permutations(LETTERS[:parent_phases]))
    return PhaseRotation.parse("".join(letters[:count]))


@st.composite
def per_phase(draw: st.DrawFn, low: float, high: float) -> tuple[float, float, float]:
    if draw(st.booleans()):
        value = draw(st.floats(low, high, allow_nan=False))
        return (value, value, value)
    a, b, c = (draw(st.floats(low, high, allow_nan=False)) for _ in range(3))
    return (a, b, c)


@st.composite
def trees(draw: st.DrawFn, max_circuits: int = 6) -> tuple[Node, ...]:
    site_rotation = draw(st.sampled_from([IDENTITY, PhaseRotation.parse("STR")]))
    nodes = [Node("site", None, draw(per_phase(0.0, 120.0)), site_rotation)]
    phase_counts = {"site": 3}
    for i in range(draw(st.integers(0, max_circuits))):
        parent = draw(st.sampled_from(nodes))
        # Mostly 3-phase circuits, some 1- and 2-phase ones.
        rotation = draw(rotations(phase_counts[parent.id]))
        if draw(st.integers(0, 3)) > 0 and phase_counts[parent.id] == 3:
            rotation = draw(
                st.sampled_from([PhaseRotation.parse(r) for r in ("RST", "STR", "TRS")])
            )
        limit = draw(per_phase(0.0, 80.0))
        loaded = draw(st.booleans())
        unmanaged = draw(per_phase(0.0, 40.0)) if loaded else (0.0, 0.0, 0.0)
        reserved = draw(per_phase(0.0, 20.0)) if draw(st.booleans()) else (0.0, 0.0, 0.0)
        node = Node(f"c{i}", parent.id, limit, rotation, unmanaged, reserved)
        nodes.append(node)
        phase_counts[node.id] = rotation.phase_count
    return tuple(nodes)


POWER_TYPES = [PowerType.AC_1_PHASE, PowerType.AC_2_PHASE, PowerType.AC_3_PHASE, PowerType.DC]


@st.composite
def demands(draw: st.DrawFn, nodes: tuple[Node, ...], index: int, deadlines: bool = True) -> Demand:
    counts = _phase_counts(nodes)
    node = draw(st.sampled_from(nodes))
    rotation = draw(rotations(counts[node.id]))
    minimum = draw(st.sampled_from([0.0, 6.0, 6.0, 6.0, 8.0, 10.0, 1.5]))
    maximum = draw(st.sampled_from([6.0, 10.0, 16.0, 16.0, 32.0, 32.0, 40.0, 5.0, 13.7]))
    used = draw(st.none() | st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True))
    departure: float | None = None
    energy: float | None = None
    if deadlines and draw(st.booleans()):
        departure = draw(st.floats(-3600.0, 12 * 3600.0))
        energy = draw(st.floats(0.0, 60_000.0))
    return Demand(
        session_id=f"s{index:02d}",
        node_id=node.id,
        max_current=maximum,
        rotation=rotation,
        power_type=draw(st.sampled_from(POWER_TYPES)),
        used_terminals=None if used is None else tuple(used),
        min_current=minimum,
        weight=draw(st.sampled_from([1.0, 1.0, 1.0, 2.0, 0.5, 3.0, 0.0])),
        plugged_in_at=float(draw(st.integers(0, 5))),
        can_switch_phases=draw(st.booleans()),
        departure_at=departure,
        energy_wanted_wh=energy,
    )


@st.composite
def problems(
    draw: st.DrawFn,
    max_sessions: int = 12,
    max_circuits: int = 6,
    deadlines: bool = True,
    switching: bool = True,
) -> Problem:
    nodes = draw(trees(max_circuits))
    count = draw(st.integers(0, max_sessions))
    sessions = tuple(draw(demands(nodes, i, deadlines)) for i in range(count))
    threshold = draw(st.none() | st.floats(0.0, 60.0)) if switching else None
    return Problem(nodes=nodes, demands=sessions, three_to_one_phase_switch_current=threshold)


def _phase_counts(nodes: tuple[Node, ...]) -> dict[str, int]:
    return {n.id: n.rotation.phase_count for n in nodes}


# --- an independent reading of the tree -------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """Per (node id, grid phase): capacity, allocated, and the sessions on it."""

    capacity: dict[tuple[str, Phase], float]
    allocated: dict[tuple[str, Phase], float]
    members: dict[tuple[str, Phase], list[str]]


def path_to_root(nodes: tuple[Node, ...], node_id: str) -> list[Node]:
    by_id = {n.id: n for n in nodes}
    path = [by_id[node_id]]
    while path[-1].parent_id is not None:
        path.append(by_id[path[-1].parent_id])
    return path


def grid_phases(problem: Problem, demand: Demand) -> tuple[Phase, ...]:
    """Rule 5 computed from the rules: compose site -> circuits -> connector, keep the
    terminals the power type has, narrowed to those the car was seen using."""
    path = path_to_root(problem.nodes, demand.node_id)
    rotation = compose([n.rotation for n in reversed(path)] + [demand.rotation])
    if demand.power_type is PowerType.DC:
        return rotation.targets
    terminals = list(range(1, min(demand.power_type.phase_count, rotation.phase_count) + 1))
    if demand.used_terminals and any(t in demand.used_terminals for t in terminals):
        terminals = [t for t in terminals if t in demand.used_terminals]
    return tuple(rotation.target(t) for t in terminals)


def read(problem: Problem, plan: Plan) -> Reading:
    capacity: dict[tuple[str, Phase], float] = {}
    parts: dict[tuple[str, Phase], list[float]] = {}
    members: dict[tuple[str, Phase], list[str]] = {}
    for node in problem.nodes:
        for phase in Phase:
            i = phase.index
            key = (node.id, phase)
            capacity[key] = max(0.0, node.limit[i] - node.unmanaged[i] - node.reserved[i])
            parts[key] = []
            members[key] = []
    demands_by_id = {d.session_id: d for d in problem.demands}
    for entry in plan.sessions:
        demand = demands_by_id[entry.session_id]
        for node in path_to_root(problem.nodes, demand.node_id):
            for phase in entry.grid_phases:
                parts[(node.id, phase)].append(entry.limit_a)
                members[(node.id, phase)].append(entry.session_id)
    allocated = {key: math.fsum(values) for key, values in parts.items()}
    return Reading(capacity, allocated, members)
