"""Time ``allocate`` and HiGHS (LP relaxation of the same instance) side by side."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np

from chargegrid.balancing import Plan, Problem, allocate

from .instances import site


@dataclass(frozen=True)
class SpeedRow:
    label: str
    sessions: int
    samples: int
    ours_p50_ms: float
    ours_p99_ms: float
    highs_p50_ms: float
    highs_p99_ms: float
    ours_total_a: float
    lp_total_a: float

    @property
    def ratio(self) -> float:
        return self.highs_p50_ms / self.ours_p50_ms

    @property
    def gap_percent(self) -> float:
        return 100.0 * (self.lp_total_a - self.ours_total_a) / self.lp_total_a


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def lp_relaxation(problem: Problem, plan: Plan) -> highspy.HighsLp:
    """max sum of current over all phases, 0 <= x <= max (minimum-or-zero relaxed), every
    node-phase limit, each session on the phases the allocator gave it."""
    nodes = {n.id: n for n in problem.nodes}
    row_of: dict[tuple[str, int], int] = {}
    starts, index = [0], []
    for demand, entry in zip(problem.demands, plan.sessions, strict=True):
        node_id: str | None = demand.node_id
        while node_id is not None:
            for phase in entry.grid_phases:
                index.append(row_of.setdefault((node_id, phase.index), len(row_of)))
            node_id = nodes[node_id].parent_id
        starts.append(len(index))
    upper = np.zeros(len(row_of))
    for (node_id, p), row in row_of.items():
        node = nodes[node_id]
        upper[row] = max(0.0, node.limit[p] - node.unmanaged[p] - node.reserved[p])
    lp = highspy.HighsLp()
    lp.num_col_ = len(problem.demands)
    lp.num_row_ = len(row_of)
    lp.col_cost_ = np.array([-float(len(e.grid_phases)) for e in plan.sessions])
    lp.col_lower_ = np.zeros(lp.num_col_)
    lp.col_upper_ = np.array([d.max_current for d in problem.demands])
    lp.row_lower_ = np.full(lp.num_row_, -highspy.kHighsInf)
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.ones(len(index))
    return lp


def solve(lp: highspy.HighsLp) -> float:
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.passModel(lp)
    highs.run()
    return -float(highs.getInfo().objective_function_value)


def measure(
    label: str,
    circuits: int,
    per_circuit: int,
    seeds: int,
    repeats: int,
    highs_repeats: int,
    site_per_charger: float = 4.0,
) -> SpeedRow:
    ours: list[float] = []
    theirs: list[float] = []
    ours_total = lp_total = 0.0
    for seed in range(seeds):
        problem = site(circuits, per_circuit, seed, site_per_charger)
        plan = allocate(problem)  # warm-up, and the phases HiGHS gets
        for _ in range(repeats):
            start = time.perf_counter_ns()
            allocate(problem)
            ours.append((time.perf_counter_ns() - start) / 1e6)
        lp = lp_relaxation(problem, plan)
        for _ in range(highs_repeats):
            start = time.perf_counter_ns()
            best = solve(lp)
            theirs.append((time.perf_counter_ns() - start) / 1e6)
        ours_total += sum(e.limit_a * len(e.grid_phases) for e in plan.sessions)
        lp_total += best
    return SpeedRow(
        label=label,
        sessions=circuits * per_circuit,
        samples=len(ours),
        ours_p50_ms=percentile(ours, 0.50),
        ours_p99_ms=percentile(ours, 0.99),
        highs_p50_ms=percentile(theirs, 0.50),
        highs_p99_ms=percentile(theirs, 0.99),
        ours_total_a=ours_total,
        lp_total_a=lp_total,
    )
