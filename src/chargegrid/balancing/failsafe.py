"""The failsafe plan: what each charger may draw when it loses its connection.

A charger that goes offline keeps charging at its offline current (OCPP 1.6
``TxDefaultProfile`` fallback / Zaptec ``OfflineChargeCurrent``). Any number of chargers
can go offline at once, so the plan assumes they *all* draw their offline current
together and must still respect every fuse on every phase (Zaptec's automatic offline
current). Overrides (``offline_charge_current`` / ``offline_charge_phase``) are honoured
when they fit; an override that would overload a fuse is reported as a conflict and
that charger falls back to the automatic value instead of being applied.

The automatic part is an ordinary allocation: one demand per charger, minimum its
minimum current, maximum its maximum (or its minimum with ``offline_limit_to_min_current``),
3-phase chargers allowed to drop to 1 phase, the accepted overrides held as reserved load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from chargegrid.balancing.allocator import allocate
from chargegrid.balancing.model import Demand, Node, NodeLoad, Problem
from chargegrid.balancing.tree import Tree, build_tree, node_loads
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.errors import FieldError, InvalidValue
from chargegrid.domain.phases import IDENTITY, OfflinePhase, Phase, PhaseRotation
from chargegrid.domain.units import DEFAULT_MIN_CHARGE_CURRENT

# Zaptec accepts offline overrides between 0 and 32 A.
MAX_OFFLINE_CURRENT = 32.0


@dataclass(frozen=True, slots=True)
class OfflineCharger:
    """A charger as the failsafe plan sees it.

    ``rotation`` is the charger's rotation to ``node_id``; ``phase_count`` its AC phases
    (1 or 3, its ``max_charge_phases``). ``offline_current`` is the override in A, or
    ``None`` for automatic (the API's -1); ``offline_phase`` the override of the charger
    conductors to use offline, ``OfflinePhase.AUTO`` for automatic.
    """

    charger_id: str
    node_id: str
    rotation: PhaseRotation = IDENTITY
    phase_count: int = 3
    min_current: float = DEFAULT_MIN_CHARGE_CURRENT
    max_current: float = MAX_OFFLINE_CURRENT
    weight: float = 1.0
    offline_current: float | None = None
    offline_phase: OfflinePhase = OfflinePhase.AUTO
    # Between two lines (its rotation's two): both carry its current, whatever phase.
    line_to_line: bool = False


@dataclass(frozen=True, slots=True)
class OfflineSetting:
    """``current`` 0 means the charger must not charge while offline. ``phase`` is in the
    charger's own conductors (what to send it); ``grid_phases`` what that loads."""

    charger_id: str
    current: float
    phase: OfflinePhase
    grid_phases: tuple[Phase, ...]
    overridden: bool
    reason: str


@dataclass(frozen=True, slots=True)
class OverrideConflict:
    charger_id: str
    node_id: str
    phase: Phase
    requested: float
    available: float

    def message(self) -> str:
        return (
            f"charger {self.charger_id}: offline override of {self.requested:g} A would "
            f"overload {self.node_id}/{self.phase.name} ({self.available:g} A left)"
        )


@dataclass(frozen=True, slots=True)
class FailsafePlan:
    chargers: tuple[OfflineSetting, ...]
    nodes: tuple[NodeLoad, ...]
    conflicts: tuple[OverrideConflict, ...]

    def charger(self, charger_id: str) -> OfflineSetting:
        for entry in self.chargers:
            if entry.charger_id == charger_id:
                return entry
        raise KeyError(charger_id)

    def raise_for_conflicts(self) -> None:
        """For the configuration API: refuse overrides that do not fit (HTTP 422)."""
        if self.conflicts:
            raise InvalidValue(
                [FieldError("offline_charge_current", c.message()) for c in self.conflicts]
            )


def failsafe_plan(
    nodes: tuple[Node, ...],
    chargers: tuple[OfflineCharger, ...],
    *,
    limit_to_min_current: bool = False,
) -> FailsafePlan:
    tree = build_tree(nodes)
    # What each node and phase may carry, unrelaxed: a phasor node's magnitude sum
    # within its limit keeps the phasor sum within it too (tree.capacity is relaxed).
    base = tuple(max(0.0, f) for f in tree.values.free)
    spare = list(base)
    fixed: dict[str, OfflineSetting] = {}
    conflicts: list[OverrideConflict] = []
    # Overrides first, in id order so which one is refused never depends on input order.
    for charger in sorted(chargers, key=lambda c: c.charger_id):
        if charger.offline_current is None:
            continue
        node = tree.index[charger.node_id]
        setting = _override(tree.to_grid[node], charger)
        resources = tree.resources(node, setting.grid_phases)
        short = next((r for r in resources if spare[r] < setting.current), None)
        if short is not None:
            node_id, phase = tree.describe(short)
            conflicts.append(
                OverrideConflict(charger.charger_id, node_id, phase, setting.current, spare[short])
            )
            continue
        for r in resources:
            spare[r] -= setting.current
        fixed[charger.charger_id] = setting

    automatic = [c for c in chargers if c.charger_id not in fixed]
    plan = allocate(
        Problem(
            nodes=tuple(_hold(n, tree.index[n.id], base, spare) for n in nodes),
            demands=tuple(_as_demand(c, limit_to_min_current) for c in automatic),
        )
    )
    settings = dict(fixed)
    for charger in automatic:
        entry = plan.session(charger.charger_id)
        settings[charger.charger_id] = OfflineSetting(
            charger_id=charger.charger_id,
            current=entry.limit_a,
            phase=_phase_setting(charger, len(entry.grid_phases)),
            grid_phases=entry.grid_phases,
            overridden=False,
            reason=entry.reason,
        )
    if tree.rows is not None:
        _guard_wired(tree, chargers, settings, fixed, conflicts)
    ordered = tuple(settings[c.charger_id] for c in chargers)
    return FailsafePlan(
        chargers=ordered,
        nodes=_node_loads(tree, chargers, ordered),
        conflicts=tuple(conflicts),
    )


def _guard_wired(
    tree: Tree,
    chargers: tuple[OfflineCharger, ...],
    settings: dict[str, OfflineSetting],
    fixed: dict[str, OfflineSetting],
    conflicts: list[OverrideConflict],
) -> None:
    """A wired network (phasor lines, a transformer) checked on its true phasor sums
    with every charger at its offline current at once. Overrides were checked on
    per-phase sums only, which miss a transformer's primary: should anything be over,
    the automatic chargers get 0 offline, then the overrides are refused from the last
    id up until it fits."""
    rows = tree.rows
    assert rows is not None

    def over() -> bool:
        layouts = []
        values = []
        for c in chargers:
            setting = settings[c.charger_id]
            demand = Demand(c.charger_id, c.node_id, 0.0, line_to_line=c.line_to_line)
            layouts.append((tree.index[c.node_id], setting.grid_phases, demand))
            values.append(setting.current)
        return bool(rows.check(tree.shape.ids, layouts, values))

    if not over():
        return
    for charger_id, setting in settings.items():
        if charger_id not in fixed:
            settings[charger_id] = replace(setting, current=0.0, reason="wired_limit")
    for charger_id in sorted(fixed, reverse=True):
        if not over():
            return
        setting = settings[charger_id]
        node_id = next(c.node_id for c in chargers if c.charger_id == charger_id)
        conflicts.append(
            OverrideConflict(charger_id, node_id, setting.grid_phases[0], setting.current, 0.0)
        )
        settings[charger_id] = replace(setting, current=0.0, reason="override_conflict")


def _hold(node: Node, i: int, capacity: tuple[float, ...], spare: list[float]) -> Node:
    """The node with the accepted overrides' current added to what it holds in reserve."""
    held = [capacity[i * 3 + p] - spare[i * 3 + p] for p in range(3)]
    return replace(
        node,
        reserved=(
            node.reserved[0] + held[0],
            node.reserved[1] + held[1],
            node.reserved[2] + held[2],
        ),
    )


def _node_loads(
    tree: Tree, chargers: tuple[OfflineCharger, ...], settings: tuple[OfflineSetting, ...]
) -> tuple[NodeLoad, ...]:
    """Every node's load with every charger at its offline current at once."""
    parts: list[list[float]] = [[] for _ in range(tree.resource_count)]
    for charger, setting in zip(chargers, settings, strict=True):
        for r in tree.resources(tree.index[charger.node_id], setting.grid_phases):
            parts[r].append(setting.current)
    loads = [math.fsum(p) for p in parts]
    return node_loads(tree, loads)


def _conductors(charger: OfflineCharger) -> tuple[int, ...]:
    """The charger conductors an offline-phase setting names, within what it has."""
    usable = tuple(
        p.value for p in charger.offline_phase.phases() if p.value <= charger.phase_count
    )
    return usable or tuple(range(1, charger.phase_count + 1))


def _override(node_to_grid: PhaseRotation, charger: OfflineCharger) -> OfflineSetting:
    """The load an override puts on the grid. Below the charger's minimum it means no
    charging at all, as on the charger itself."""
    requested = min(max(charger.offline_current or 0.0, 0.0), MAX_OFFLINE_CURRENT)
    current = requested if requested >= charger.min_current else 0.0
    rotation = node_to_grid.then(charger.rotation)
    phase = charger.offline_phase
    if phase is OfflinePhase.AUTO:
        # An automatic phase next to a fixed current: count every conductor (safe).
        phase = OfflinePhase.ALL if charger.phase_count > 1 else OfflinePhase.L1
    conductors = _conductors(replace(charger, offline_phase=phase))
    if charger.line_to_line:
        conductors = (1, 2)
    return OfflineSetting(
        charger_id=charger.charger_id,
        current=current,
        phase=phase,
        grid_phases=tuple(rotation.target(t) for t in conductors),
        overridden=True,
        reason="override" if current > 0.0 else "override_below_min",
    )


def _as_demand(charger: OfflineCharger, limit_to_min: bool) -> Demand:
    one_phase = charger.phase_count == 1
    pinned = charger.offline_phase is not OfflinePhase.AUTO
    if charger.line_to_line:
        return Demand(
            session_id=charger.charger_id,
            node_id=charger.node_id,
            rotation=charger.rotation,
            power_type=PowerType.AC_2_PHASE,
            line_to_line=True,
            min_current=charger.min_current,
            max_current=charger.min_current if limit_to_min else charger.max_current,
            weight=charger.weight,
        )
    return Demand(
        session_id=charger.charger_id,
        node_id=charger.node_id,
        rotation=charger.rotation,
        power_type=PowerType.AC_1_PHASE if one_phase else PowerType.AC_3_PHASE,
        used_terminals=_conductors(charger) if pinned else None,
        min_current=charger.min_current,
        max_current=charger.min_current if limit_to_min else charger.max_current,
        weight=charger.weight,
        can_switch_phases=not one_phase and not pinned,
    )


def _phase_setting(charger: OfflineCharger, loaded_phases: int) -> OfflinePhase:
    if charger.offline_phase is not OfflinePhase.AUTO:
        return charger.offline_phase
    if charger.phase_count == 1 or loaded_phases == 1:
        return OfflinePhase.L1
    return OfflinePhase.ALL
