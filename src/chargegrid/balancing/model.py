"""The allocator's input and output: plain frozen values, so the control loop can build a
problem from the database on every change and diff the plan against what chargers
acknowledged.

Every per-phase value is a 3-tuple indexed by **grid** phase (``L1, L2, L3`` at the
site's main fuse), whatever the node's own rotation; currents are in A, times in
seconds since the epoch, ids are strings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from itertools import repeat
from typing import TypeVar

from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import IDENTITY, Phase, PhaseRotation
from chargegrid.domain.units import DEFAULT_MIN_CHARGE_CURRENT, DEFAULT_NOMINAL_VOLTAGE

PhaseAmps = tuple[float, float, float]
ZERO: PhaseAmps = (0.0, 0.0, 0.0)


def uniform(current: float) -> PhaseAmps:
    """The same current on every grid phase, e.g. a fuse rated ``current`` A per phase."""
    return (current, current, current)


def to_grid(rotation_to_grid: PhaseRotation, per_conductor: tuple[float, ...]) -> PhaseAmps:
    """Re-index a node's per-conductor values (e.g. its meter's L1..L3) by grid phase.

    ``rotation_to_grid`` is the node's rotation composed from the site down
    (``chargegrid.domain.phases.compose``). Grid phases the node does not reach get 0.
    """
    values = [0.0, 0.0, 0.0]
    for conductor, value in enumerate(per_conductor[: rotation_to_grid.phase_count], start=1):
        values[rotation_to_grid.target(conductor).index] += value
    return (values[0], values[1], values[2])


@dataclass(frozen=True, slots=True)
class Transformer:
    """A delta-wye transformer: the node that holds it is the transformer's secondary
    (its ``limit`` rates the secondary lines); the primary side draws, on each primary
    line, the phasor difference of two secondary line currents divided by ``ratio``
    (primary winding voltage / secondary winding voltage, e.g. 480 V / 120 V = 4), and
    ``primary_limit`` A may flow on each primary line (see docs/load-manager.md).
    """

    ratio: float
    primary_limit: float


@dataclass(frozen=True, slots=True)
class Node:
    """A fuse in the site's tree: the site's main fuse (``parent_id=None``), a circuit,
    or a charger's own input limit.

    ``limit`` is what may flow through the node per grid phase: the site's effective
    available current (≤ its max_current), a circuit's max_current or its override.
    ``unmanaged`` is load this decision does not control (a building meter, or the
    node's ``offline_reserved_current`` while the meter is stale). ``reserved`` is current
    held for sessions and chargers outside this decision: an offline charger at its
    failsafe current, a reduction the charger has not acknowledged yet at its old value.
    ``rotation`` is the node's phase rotation to its parent (the site's to the grid).
    ``phasor_lines``: its line limits are checked on the phasor sum of the currents below
    it, so line-to-line loads count what they really load (a 208 V network); otherwise
    per-phase magnitudes are summed (exact for line-to-neutral loads). ``transformer``:
    the node is a delta-wye transformer's secondary (its lines are then phasor lines);
    the nodes above it carry its primary currents.
    """

    id: str
    parent_id: str | None
    limit: PhaseAmps
    rotation: PhaseRotation = IDENTITY
    unmanaged: PhaseAmps = ZERO
    reserved: PhaseAmps = ZERO
    phasor_lines: bool = False
    transformer: Transformer | None = None


@dataclass(frozen=True, slots=True)
class Demand:
    """One active session asking for current.

    ``rotation`` is the connector's rotation to ``node_id`` (its charger or circuit).
    ``used_terminals`` are the connector terminals (1-based) the car was seen drawing on,
    learnt from per-phase meter values; ``None`` means not known yet, so every terminal
    the connector has counts (the safe assumption). For DC, ``min_current`` and
    ``max_current`` are the AC input current per phase (balanced 3-phase).
    ``weight`` is charger priority x session priority (≥ 0; 0 = only what is left over).
    ``phase_switches`` counts the 1↔3 switches this session has had so far.
    ``departure_at`` and ``energy_wanted_wh`` (still to deliver) turn on deadline
    awareness when both are known. ``allowed_currents`` are the only currents the
    charger accepts (ascending, e.g. ``(0, 8, 16, 24, 32)`` or whole amps), ``None`` =
    any current in [min, max]; the plan rounds down into them.
    ``line_to_line``: the connector's first two terminals sit between two lines with no
    neutral (a 208 V charger): its current flows out on one line and back on the other,
    loading both. ``voltage`` is what its terminals see (None: the problem's voltage
    line-to-neutral, times √3 line-to-line).
    """

    session_id: str
    node_id: str
    max_current: float
    rotation: PhaseRotation = IDENTITY
    power_type: PowerType = PowerType.AC_3_PHASE
    used_terminals: tuple[int, ...] | None = None
    min_current: float = DEFAULT_MIN_CHARGE_CURRENT
    weight: float = 1.0
    plugged_in_at: float = 0.0
    can_switch_phases: bool = False
    phase_switches: int = 0
    departure_at: float | None = None
    energy_wanted_wh: float | None = None
    allowed_currents: tuple[float, ...] | None = None
    line_to_line: bool = False
    voltage: float | None = None


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """The allocator's answer for one session.

    ``limit_a`` is 0 or within [min, max]. ``phases`` is what to command (OCPP
    ``numberPhases``): 1 when the session was switched to 1 phase or only has one,
    else 3. ``grid_phases`` are the grid phases it loads at ``limit_a`` each.
    ``reason``: ``at_max``, ``fair_share`` (held by the site's own limit),
    ``limited_by:<node_id>/<L1|L2|L3>``, ``switched_to_1_phase``,
    ``below_min_not_admitted``, ``max_below_min``, ``zero_weight_leftover``.
    ``bottleneck`` is the (node, grid phase) that stopped it, where one did.
    ``weight`` is the priority weight used (deadlines act through the laxity fill).
    """

    session_id: str
    limit_a: float
    phases: int
    grid_phases: tuple[Phase, ...]
    reason: str
    bottleneck: tuple[str, Phase] | None = None
    weight: float = 1.0

    @property
    def admitted(self) -> bool:
        return self.limit_a > 0.0

    def load(self) -> PhaseAmps:
        """The current this session puts on each grid phase."""
        values = [0.0, 0.0, 0.0]
        for phase in self.grid_phases:
            values[phase.index] = self.limit_a
        return (values[0], values[1], values[2])


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """Per grid phase: ``headroom = limit - unmanaged - reserved - allocated``; never
    negative unless ``unmanaged + reserved`` alone already exceed the limit (then
    ``allocated`` is 0 there)."""

    node_id: str
    limit: PhaseAmps
    unmanaged: PhaseAmps
    reserved: PhaseAmps
    allocated: PhaseAmps
    headroom: PhaseAmps


@dataclass(frozen=True, slots=True)
class Plan:
    """``sessions`` in the order of the problem's demands; ``nodes`` in id order."""

    sessions: tuple[SessionPlan, ...]
    nodes: tuple[NodeLoad, ...]

    def session(self, session_id: str) -> SessionPlan:
        for entry in self.sessions:
            if entry.session_id == session_id:
                return entry
        raise KeyError(session_id)

    def node(self, node_id: str) -> NodeLoad:
        for entry in self.nodes:
            if entry.node_id == node_id:
                return entry
        raise KeyError(node_id)


@dataclass(frozen=True, slots=True)
class Problem:
    """A site's tree and its active sessions at time ``now``.

    ``three_to_one_phase_switch_current``: when the site's lowest per-phase availability
    (limit - unmanaged - reserved at the root) is under it, switchable sessions go to 1
    phase. ``switch_hysteresis_a``: going back from 1 to 3 phases needs this much more
    than going down did, so a plan does not flap. ``max_phase_switches``: a session that
    has switched this often keeps its current phase count. ``previous`` is the plan now
    in force (for hysteresis); sessions not in it are new. ``period_s`` is how long a
    plan stays in force before the next decision at the latest: a session that wants
    less energy than its current delivers over it is given only what it needs.
    """

    nodes: tuple[Node, ...]
    demands: tuple[Demand, ...]
    now: float = 0.0
    three_to_one_phase_switch_current: float | None = None
    switch_hysteresis_a: float = 2.0
    max_phase_switches: int | None = None
    previous: Plan | None = None
    voltage: float = DEFAULT_NOMINAL_VOLTAGE
    period_s: float = 60.0


# --- building plans fast -----------------------------------------------------------------
# A frozen dataclass's __init__ sets each field through object.__setattr__, about 3x
# the cost of writing the slot. The allocator builds one SessionPlan per session and one
# NodeLoad per node on every call (thousands per decision), so it creates them empty and
# fills each slot column by column, the loops running in C (``map`` over the slot's
# setter). The objects are equal to the constructor's (tests compare them).

_SetSlot = Callable[[object, object], None]


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[_SetSlot, ...]:
    if set(names) != {f.name for f in fields(cls)}:
        raise TypeError(f"{cls.__name__}: the fast constructor must set every field")
    return tuple(getattr(cls, name).__set__ for name in names)


_SESSION_SLOTS = _slot_setters(
    SessionPlan,
    ("session_id", "limit_a", "phases", "grid_phases", "reason", "bottleneck", "weight"),
)
_NODE_SLOTS = _slot_setters(
    NodeLoad, ("node_id", "limit", "unmanaged", "reserved", "allocated", "headroom")
)


_T = TypeVar("_T")


def _by_columns(
    cls: type[_T], setters: tuple[_SetSlot, ...], columns: tuple[Sequence[object], ...]
) -> tuple[_T, ...]:
    count = len(columns[0])
    if any(len(column) != count for column in columns):
        raise ValueError(f"{cls.__name__}: columns of different lengths")
    entries = list(map(object.__new__, repeat(cls, count)))
    for setter, column in zip(setters, columns, strict=True):
        deque(map(setter, entries, column), maxlen=0)
    return tuple(entries)


def make_session_plans(
    session_id: Sequence[str],
    limit_a: Sequence[float],
    phases: Sequence[int],
    grid_phases: Sequence[tuple[Phase, ...]],
    reason: Sequence[str],
    bottleneck: Sequence[tuple[str, Phase] | None],
    weight: Sequence[float],
) -> tuple[SessionPlan, ...]:
    """``SessionPlan(...)`` for each row of the given columns, without the frozen-init
    overhead."""
    columns = (session_id, limit_a, phases, grid_phases, reason, bottleneck, weight)
    return _by_columns(SessionPlan, _SESSION_SLOTS, columns)


def make_node_loads(
    node_id: Sequence[str],
    limit: Sequence[PhaseAmps],
    unmanaged: Sequence[PhaseAmps],
    reserved: Sequence[PhaseAmps],
    allocated: Sequence[PhaseAmps],
    headroom: Sequence[PhaseAmps],
) -> tuple[NodeLoad, ...]:
    """``NodeLoad(...)`` for each row of the given columns, without the frozen-init
    overhead."""
    columns = (node_id, limit, unmanaged, reserved, allocated, headroom)
    return _by_columns(NodeLoad, _NODE_SLOTS, columns)
