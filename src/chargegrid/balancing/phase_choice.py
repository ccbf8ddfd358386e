"""Which phase a 1-phase car on a 3-phase EVSE should use (OCPP 2.0.1 ``phaseToUse``).

A station that reports ``ACPhaseSwitchingSupported`` can put a 1-phase car on any of its
three terminals. Left alone, every such car loads terminal 1: on a site wired with the
same rotation everywhere, they all pile onto one grid phase while two stay idle. Here
each new candidate gets the terminal whose grid phase has the most headroom along its
whole path (each fuse's limit minus its unmanaged and reserved load, minus what the
demands already on that phase may draw, at their maximum), taken in plug-in order.

The choice is made once per session, before its first limit (the control loop keeps
it), so a car never moves between phases while it charges; the allocator then plans the
demand on that terminal like any other (``used_terminals``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chargegrid.balancing.model import Demand, Node, Problem
from chargegrid.domain.phases import Phase

TERMINALS = (1, 2, 3)


# Where each phase of a demand's own node lands on the grid (None: nowhere).
Map = tuple[Phase | None, ...]


def _grid_path(nodes: Mapping[str, Node], node_id: str) -> tuple[list[str], Map]:
    """The nodes from ``node_id`` up to the root, and the grid phase each of
    ``node_id``'s phases is (every node's limits and loads are per grid phase)."""
    path: list[str] = []
    current: Node | None = nodes[node_id]
    here: Map = (Phase.L1, Phase.L2, Phase.L3)
    while current is not None:
        path.append(current.id)
        up = current.rotation.targets  # to its parent (the root's: to the grid)
        here = tuple(None if p is None or p.index >= len(up) else up[p.index] for p in here)
        current = nodes.get(current.parent_id) if current.parent_id is not None else None
    return path, here


def _phase_at(demand: Demand, terminal: int, grid: Map) -> Phase | None:
    """The grid phase the demand's ``terminal`` loads (None: it cannot be used)."""
    targets = demand.rotation.targets
    usable = len(targets) if demand.power_type.is_dc else demand.power_type.phase_count
    if terminal > min(len(targets), usable):
        return None
    return grid[targets[terminal - 1].index]


def choose_terminals(problem: Problem, candidates: Iterable[str]) -> dict[str, int]:
    """A terminal (1-3) for each candidate session of ``problem`` (1-phase demands on
    3-phase AC connectors), most headroom first; ties keep terminal 1 (no move)."""
    wanted = set(candidates)
    if not wanted:
        return {}
    nodes = {n.id: n for n in problem.nodes}
    headroom: dict[tuple[str, Phase], float] = {
        (n.id, p): n.limit[p.index] - n.unmanaged[p.index] - n.reserved[p.index]
        for n in nodes.values()
        for p in Phase
    }
    paths: dict[str, tuple[list[str], Map]] = {}
    chosen: dict[str, int] = {}
    # Demands not choosing take their share first (at their max, on their terminals).
    ordered = sorted(problem.demands, key=lambda d: (d.session_id in wanted, d.plugged_in_at))
    for demand in ordered:
        if demand.node_id not in nodes:
            continue
        if demand.node_id not in paths:
            paths[demand.node_id] = _grid_path(nodes, demand.node_id)
        path, grid = paths[demand.node_id]
        if demand.session_id in wanted:
            terminal = _best(demand, path, grid, headroom)
            chosen[demand.session_id] = terminal
            terminals: tuple[int, ...] = (terminal,)
        else:
            terminals = _loaded(demand)
        for terminal in terminals:
            phase = _phase_at(demand, terminal, grid)
            if phase is not None:
                for node_id in path:
                    headroom[(node_id, phase)] -= demand.max_current
    return chosen


def _loaded(demand: Demand) -> tuple[int, ...]:
    """The terminals a demand loads (the rule of ``switching.wiring``): those its power
    type has, narrowed to the ones its car was seen on when those exist."""
    count = demand.rotation.phase_count
    if not demand.power_type.is_dc:
        count = min(count, demand.power_type.phase_count)
    terminals = tuple(range(1, count + 1))
    seen = tuple(t for t in terminals if t in (demand.used_terminals or ()))
    return seen if seen and not demand.power_type.is_dc else terminals


def _best(
    demand: Demand, path: list[str], grid: Map, headroom: Mapping[tuple[str, Phase], float]
) -> int:
    best, best_room = 1, float("-inf")
    for terminal in TERMINALS:
        phase = _phase_at(demand, terminal, grid)
        if phase is None:
            continue
        room = min(headroom[(node_id, phase)] for node_id in path)
        if room > best_room + 1e-9:  # strictly better: ties stay on terminal 1
            best, best_room = terminal, room
    return best
