"""The LP oracle: the lexicographic weighted max-min optimum by sequential LPs (HiGHS).

For a fixed admitted set and phase choice, the fair allocation is the point that
maximises the smallest ``x / w``, then the next smallest, and so on, subject to every
node-phase limit and ``min <= x <= max``. Each round maximises a common level ``z`` over
the sessions not yet fixed, then fixes those that cannot rise above it (checked with one
LP each), until every session is fixed. Zero-weight sessions form a second tier that
shares what the first leaves. Test-only: scipy is not a runtime dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from chargegrid.balancing import Plan, Problem

from .checks import NOT_ADMITTED, resources_of

LEVEL_TOLERANCE = 1e-7


@dataclass(frozen=True)
class Instance:
    session_ids: list[str]
    matrix: np.ndarray  # resources x sessions, 0/1
    capacity: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    weight: np.ndarray


def instance(problem: Problem, plan: Plan) -> Instance:
    """The admitted sessions of ``plan`` with the phases it chose, as an LP."""
    admitted = [e for e in plan.sessions if e.reason not in NOT_ADMITTED]
    demands = {d.session_id: d for d in problem.demands}
    keys: dict[tuple[str, object], int] = {}
    rows: list[tuple[int, int]] = []
    for column, entry in enumerate(admitted):
        for key in resources_of(problem, entry.session_id, entry.grid_phases):
            rows.append((keys.setdefault(key, len(keys)), column))
    matrix = np.zeros((len(keys), len(admitted)))
    for row, column in rows:
        matrix[row, column] = 1.0
    nodes = {n.id: n for n in problem.nodes}
    capacity = np.zeros(len(keys))
    for (node_id, phase), row in keys.items():
        node = nodes[node_id]
        i = phase.index  # type: ignore[attr-defined]
        capacity[row] = max(0.0, node.limit[i] - node.unmanaged[i] - node.reserved[i])
    return Instance(
        session_ids=[e.session_id for e in admitted],
        matrix=matrix,
        capacity=capacity,
        lo=np.array([demands[e.session_id].min_current for e in admitted]),
        hi=np.array([demands[e.session_id].max_current for e in admitted]),
        weight=np.array([e.weight for e in admitted]),
    )


def lexicographic_max_min(inst: Instance) -> dict[str, float]:
    n = len(inst.session_ids)
    fixed: dict[int, float] = {}
    for tier in (
        [s for s in range(n) if inst.weight[s] > 0],
        [s for s in range(n) if inst.weight[s] <= 0],
    ):
        weight = np.where(inst.weight > 0, inst.weight, 1.0)
        free = list(tier)
        # Sessions of a later tier sit at their minimum while this one is decided.
        waiting = {s: inst.lo[s] for s in range(n) if s not in fixed and s not in tier}
        while free:
            level = _max_level(inst, weight, free, {**fixed, **waiting})
            blocked = [
                s
                for s in free
                if _max_single(inst, weight, free, {**fixed, **waiting}, level, s)
                <= weight[s] * level + LEVEL_TOLERANCE * 10
            ]
            if not blocked:  # numerical corner: fix the one closest to the level
                blocked = [min(free, key=lambda s: inst.lo[s] / weight[s])]
            for s in blocked:
                fixed[s] = max(inst.lo[s], min(inst.hi[s], weight[s] * level))
                free.remove(s)
    return {inst.session_ids[s]: fixed[s] for s in range(n)}


def _bounds(inst: Instance, fixed: dict[int, float]) -> list[tuple[float, float]]:
    return [
        (fixed[s], fixed[s]) if s in fixed else (float(inst.lo[s]), float(inst.hi[s]))
        for s in range(len(inst.session_ids))
    ]


def _max_level(
    inst: Instance, weight: np.ndarray, free: list[int], fixed: dict[int, float]
) -> float:
    """max z  s.t.  A x <= c,  x_s >= w_s z for free s,  bounds."""
    n = len(inst.session_ids)
    c = np.zeros(n + 1)
    c[n] = -1.0
    a_ub = [np.append(row, 0.0) for row in inst.matrix]
    b_ub = list(inst.capacity)
    for s in free:
        row = np.zeros(n + 1)
        row[s] = -1.0
        row[n] = weight[s]
        a_ub.append(row)
        b_ub.append(0.0)
    bounds = [*_bounds(inst, fixed), (0.0, float(max(inst.hi / weight)) + 1.0)]
    result = linprog(c, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return float(result.x[n])


def _max_single(
    inst: Instance,
    weight: np.ndarray,
    free: list[int],
    fixed: dict[int, float],
    level: float,
    target: int,
) -> float:
    """How far ``target`` alone can rise with every free session kept at the level."""
    n = len(inst.session_ids)
    c = np.zeros(n)
    c[target] = -1.0
    bounds = _bounds(inst, fixed)
    for s in free:
        low, high = bounds[s]
        bounds[s] = (max(low, min(high, weight[s] * level - LEVEL_TOLERANCE)), high)
    a_ub = inst.matrix if len(inst.matrix) else None
    b_ub = inst.capacity if len(inst.matrix) else None
    result = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return float(result.x[target])
