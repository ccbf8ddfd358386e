"""The load manager's pure core: ``allocate(problem) -> Plan`` and ``failsafe_plan``.

No I/O, no framework: plain frozen values in and out (see docs/load-manager.md).
"""

from chargegrid.balancing.allocator import allocate, check_plan, rank_key
from chargegrid.balancing.failsafe import (
    FailsafePlan,
    OfflineCharger,
    OfflineSetting,
    OverrideConflict,
    failsafe_plan,
)
from chargegrid.balancing.model import (
    ZERO,
    Demand,
    Node,
    NodeLoad,
    PhaseAmps,
    Plan,
    Problem,
    SessionPlan,
    to_grid,
    uniform,
)

__all__ = [
    "ZERO",
    "Demand",
    "FailsafePlan",
    "Node",
    "NodeLoad",
    "OfflineCharger",
    "OfflineSetting",
    "OverrideConflict",
    "PhaseAmps",
    "Plan",
    "Problem",
    "SessionPlan",
    "allocate",
    "check_plan",
    "failsafe_plan",
    "rank_key",
    "to_grid",
    "uniform",
]
