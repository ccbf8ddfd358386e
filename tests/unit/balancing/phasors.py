"""An independent judge of networks as they are wired: every line current as the phasor
sum of what the plan puts on it, computed from the physics here and not from
``balancing.wiring`` (its rows are what is under test).

Voltages: L1 at 0°, L2 at -120°, L3 at +120°; currents at unity power factor. A
line-to-neutral session on phase p draws ``I∠p`` on p; one between p and q draws
``I`` along ``V_p - V_q`` out on p and back on q. A delta-wye transformer's primary
line k carries ``(I_k - I_{k-1}) / ratio`` in its own conductor order; the lines above
it see those primary currents.
"""

from __future__ import annotations

import cmath
import math

from chargegrid.balancing import Demand, Node, Plan, Problem, SessionPlan
from chargegrid.domain.phases import Phase

VOLTAGE = {Phase.L1: 0.0, Phase.L2: -120.0, Phase.L3: 120.0}
TOLERANCE_A = 1e-6


def _unit(phase: Phase) -> complex:
    return cmath.rect(1.0, math.radians(VOLTAGE[phase]))


def session_lines(demand: Demand, entry: SessionPlan) -> dict[Phase, complex]:
    out = dict.fromkeys(Phase, 0j)
    if demand.line_to_line:
        p, q = entry.grid_phases
        between = _unit(p) - _unit(q)
        along = between / abs(between) * entry.limit_a
        out[p] += along
        out[q] -= along
    else:
        for p in entry.grid_phases:
            out[p] += _unit(p) * entry.limit_a
    return out


def _rotation_to_grid(nodes: dict[str, Node], node_id: str) -> list[Phase]:
    chain = []
    at: str | None = node_id
    while at is not None:
        chain.append(nodes[at])
        at = nodes[at].parent_id
    targets = list(Phase)
    for node in reversed(chain):
        targets = [targets[t - 1] for t in node.rotation.targets]
    return targets


def primary(
    node: Node, nodes: dict[str, Node], lines: dict[Phase, complex]
) -> dict[Phase, complex]:
    assert node.transformer is not None
    order = _rotation_to_grid(nodes, node.id)
    out = dict.fromkeys(Phase, 0j)
    for k in range(3):
        out[order[k]] += (lines[order[k]] - lines[order[k - 1]]) / node.transformer.ratio
    return out


def overloads(problem: Problem, plan: Plan) -> list[str]:
    """Every line (and primary line) whose true current plus its held load exceeds its
    limit, with sessions on it."""
    nodes = {n.id: n for n in problem.nodes}
    demands = {d.session_id: d for d in problem.demands}
    children: dict[str, list[str]] = {n.id: [] for n in problem.nodes}
    for n in problem.nodes:
        if n.parent_id is not None:
            children[n.parent_id].append(n.id)
    own: dict[str, list[dict[Phase, complex]]] = {n.id: [] for n in problem.nodes}
    for entry in plan.sessions:
        if entry.limit_a > 0.0:
            demand = demands[entry.session_id]
            own[demand.node_id].append(session_lines(demand, entry))
    found: list[str] = []

    def current(node_id: str) -> dict[Phase, complex]:
        """The secondary (own-side) line currents of ``node_id``; checks it on the way."""
        total = dict.fromkeys(Phase, 0j)
        for lines in own[node_id]:
            for p in Phase:
                total[p] += lines[p]
        for child in children[node_id]:
            below = current(child)
            if nodes[child].transformer is not None:
                below = primary(nodes[child], nodes, below)
            for p in Phase:
                total[p] += below[p]
        node = nodes[node_id]
        held = {p: node.unmanaged[p.index] + node.reserved[p.index] for p in Phase}
        for p in Phase:
            if abs(total[p]) > 0.0 and abs(total[p]) + held[p] > node.limit[p.index] + TOLERANCE_A:
                found.append(
                    f"{node_id}/{p.name}: {abs(total[p]) + held[p]} > {node.limit[p.index]}"
                )
        if node.transformer is not None:
            up = primary(node, nodes, total)
            order = _rotation_to_grid(nodes, node_id)
            for k in range(3):
                p = order[k]
                pair = (held[order[k]] + held[order[k - 1]]) / node.transformer.ratio
                magnitude = abs(up[p])
                if (
                    magnitude > 0.0
                    and magnitude + pair > node.transformer.primary_limit + TOLERANCE_A
                ):
                    found.append(f"{node_id}/primary {p.name}: {magnitude + pair}")
        return total

    root = next(n.id for n in problem.nodes if n.parent_id is None)
    current(root)
    return found
