"""Time ``allocate`` and HiGHS (LP relaxation of the same instance) side by side.

Ours is timed two ways, both on a fresh copy of the problem (new ``Node``/``Demand``
objects, as the control loop builds on every change, so no object identity carries
over between calls):

- **cold**: the compiled-topology cache is cleared first, so the call also checks and
  compiles the tree (the first decision after a configuration change);
- **warm**: the tree's structure was seen before (every later decision); the site's
  meter reading (its unmanaged load) differs from the previous call, as it does when
  the control loop re-decides on a new reading.

HiGHS is timed two ways as well: **solve** (``passModel`` + ``run`` on a prebuilt
``HighsLp``, the solver alone) and **build + solve** (turning the problem into the LP's
arrays first, as a caller of a solver must; given the phases our plan chose, since the
LP cannot choose phases itself).
"""

from __future__ import annotations

import gc
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import highspy
import numpy as np

from chargegrid.balancing import Plan, Problem, allocate
from chargegrid.balancing.tree import clear_topology_cache

from .instances import site


@dataclass(frozen=True)
class Timing:
    """Wall-clock time, and the process's CPU time (all its threads) over the same
    calls: on a shared machine the wall clock also counts the time other processes
    held the core, the CPU time does not."""

    samples: int
    p50_ms: float
    p99_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float


class Samples:
    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, call: Callable[..., object], *args: object) -> None:
        cpu, wall = time.process_time_ns(), time.perf_counter_ns()
        call(*args)
        self.wall.append((time.perf_counter_ns() - wall) / 1e6)
        self.cpu.append((time.process_time_ns() - cpu) / 1e6)

    def timing(self) -> Timing:
        return Timing(
            len(self.wall),
            percentile(self.wall, 0.50),
            percentile(self.wall, 0.99),
            percentile(self.cpu, 0.50),
            percentile(self.cpu, 0.99),
        )


@dataclass(frozen=True)
class SpeedRow:
    label: str
    sessions: int
    warm: Timing
    cold: Timing
    highs_solve: Timing
    highs_build_solve: Timing
    ours_total_a: float
    lp_total_a: float

    @property
    def ratio(self) -> float:
        """How many times faster a warm ``allocate`` is than HiGHS's solve alone (p50)."""
        return self.highs_solve.p50_ms / self.warm.p50_ms

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


def fresh(problem: Problem, reading: int = 0) -> Problem:
    """An equal problem made of new objects (the control loop builds one per change),
    the site's unmanaged load moved by ``reading`` x 0.5 % (a new meter reading)."""
    copy: Problem = pickle.loads(pickle.dumps(problem))
    if not reading:
        return copy
    site, *rest = copy.nodes
    moved = tuple(v * (1.0 + 0.005 * reading) for v in site.unmanaged)
    return replace(copy, nodes=(replace(site, unmanaged=(moved[0], moved[1], moved[2])), *rest))


def build_and_solve(problem: Problem, plan: Plan) -> float:
    return solve(lp_relaxation(problem, plan))


def measure(
    label: str,
    circuits: int,
    per_circuit: int,
    seeds: int,
    repeats: int,
    cold_repeats: int,
    highs_repeats: int,
    site_per_charger: float = 4.0,
    freeze: bool = False,
) -> SpeedRow:
    """``freeze``: move everything alive before the timed calls out of the garbage
    collector's sight (``gc.freeze()``), as a server can once it has started; then a
    full collection that lands inside a call no longer walks the whole heap."""
    warm, cold, solve_only, build_solve = Samples(), Samples(), Samples(), Samples()
    ours_total = lp_total = 0.0
    for seed in range(seeds):
        problem = site(circuits, per_circuit, seed, site_per_charger)
        if freeze:
            gc.collect()
            gc.freeze()
        for _ in range(cold_repeats):
            copy = fresh(problem)
            clear_topology_cache()
            cold.time(allocate, copy)
        plan = allocate(problem)  # the phases HiGHS gets; leaves the topology compiled
        for k in range(repeats):
            copy = fresh(problem, reading=1 + k % 4)
            warm.time(allocate, copy)
        lp = lp_relaxation(problem, plan)
        best = solve(lp)  # warm-up (imports, first allocation in the library)
        for _ in range(highs_repeats):
            solve_only.time(solve, lp)
            build_solve.time(build_and_solve, problem, plan)
        ours_total += sum(e.limit_a * len(e.grid_phases) for e in plan.sessions)
        lp_total += best
        if freeze:
            gc.unfreeze()
    return SpeedRow(
        label=label,
        sessions=circuits * per_circuit,
        warm=warm.timing(),
        cold=cold.timing(),
        highs_solve=solve_only.timing(),
        highs_build_solve=build_solve.timing(),
        ours_total_a=ours_total,
        lp_total_a=lp_total,
    )
