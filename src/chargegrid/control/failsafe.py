"""Each EVSE's failsafe: what it may draw once it loses us, computed by the allocator's
``failsafe_plan`` so that all of them at once fit every fuse.

It rests on the *physical* tree, not on the moment: fuse ratings (``max_current``, not
a temporary ``available_current`` override, which would push a new default to every
charger on each PATCH) and, for a node with a meter, its ``offline_reserved_current``
(nobody watches the meter while the chargers are on their own). It is recomputed when
that tree or a charger's settings change.

Each EVSE is planned as its own offline charger: with TxDefaultProfile every EVSE of a
charger falls back on its own, so each must fit. The charger's overrides apply to each.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargegrid.balancing import Node, failsafe_plan
from chargegrid.balancing.failsafe import MAX_OFFLINE_CURRENT, OfflineCharger
from chargegrid.control.apply import EvseKey
from chargegrid.control.learner import SessionLearner
from chargegrid.control.meters import MeterBook
from chargegrid.control.problem import Inputs, unmanaged_by_node
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import ChargerSpec, SiteSnapshot
from chargegrid.domain.phases import OfflinePhase, PhaseRotation


@dataclass(frozen=True, slots=True)
class TreeSignature:
    """What the failsafe depends on; equal signatures give equal failsafes."""

    nodes: tuple[tuple[object, ...], ...]
    chargers: tuple[tuple[object, ...], ...]
    limit_to_min: bool


def signature(
    snapshot: SiteSnapshot, chargers: tuple[tuple[object, ...], ...] | None = None
) -> TreeSignature:
    """``chargers``: ``charger_signature(snapshot.chargers)`` if the caller kept it."""
    return TreeSignature(
        # Not the available-current override: it changes with every PATCH and the
        # failsafe rests on the ratings.
        tuple(
            (n.id, n.parent_id, n.max_current, n.rotation, n.meter_id, n.offline_reserved_current)
            for n in snapshot.nodes
        ),
        charger_signature(snapshot.chargers) if chargers is None else chargers,
        snapshot.offline_limit_to_min_current,
    )


def charger_signature(chargers: tuple[ChargerSpec, ...]) -> tuple[tuple[object, ...], ...]:
    """The chargers' part of the signature: a loop that keeps the snapshot's chargers
    (a PATCH re-reads only the tree) keeps this too, and equal signatures then compare
    in no time (the same tuple)."""
    return tuple(
        (
            c.id,
            c.node_id,
            c.max_charge_current,
            c.min_charge_current,
            c.max_charge_phases,
            c.offline_charge_current,
            c.offline_charge_phase,
            c.priority,
            c.evses,
        )
        for c in chargers
    )


def _offline_chargers(charger: ChargerSpec) -> list[tuple[EvseKey, OfflineCharger]]:
    result = []
    for evse in charger.evses:
        if not evse.connectors:
            continue
        connector = evse.connectors[0]
        rotation = PhaseRotation.parse(connector.rotation)
        phase_count = 1 if charger.max_charge_phases == 1 or rotation.phase_count == 1 else 3
        if phase_count == 1 and not connector.line_to_line:
            rotation = PhaseRotation(rotation.targets[:1])
        maxima = [connector.max_amperage, MAX_OFFLINE_CURRENT]
        if charger.max_charge_current is not None:
            maxima.append(charger.max_charge_current)
        key = EvseKey(charger.id, evse.number)
        result.append(
            (
                key,
                OfflineCharger(
                    charger_id=f"{charger.id}/{evse.number}",
                    node_id=charger.node_id,
                    rotation=rotation,
                    phase_count=phase_count,
                    min_current=charger.min_charge_current,
                    max_current=max(min(maxima), 0.0),
                    weight=charger.priority,
                    offline_current=(
                        charger.offline_charge_current
                        if charger.offline_charge_current >= 0
                        else None
                    ),
                    offline_phase=_offline_phase(charger.offline_charge_phase),
                    line_to_line=connector.line_to_line,
                ),
            )
        )
    return result


def _offline_phase(value: int) -> OfflinePhase:
    try:
        return OfflinePhase(value)
    except ValueError:
        return OfflinePhase.AUTO


def failsafe_limits(snapshot: SiteSnapshot, now_inputs: Inputs) -> dict[EvseKey, Limit]:
    # Every meter counts as stale: offline, nobody watches it.
    blind = Inputs(
        now_wall=now_inputs.now_wall,
        now_mono=now_inputs.now_mono,
        learner=SessionLearner(),
        meters=MeterBook(),
        held={},
        failsafe={},
        offline=frozenset(),
    )
    unmanaged, _ = unmanaged_by_node(snapshot, blind)
    nodes = tuple(
        Node(
            id=n.id,
            parent_id=n.parent_id,
            limit=(n.max_current, n.max_current, n.max_current),
            rotation=PhaseRotation.parse(n.rotation),
            unmanaged=unmanaged[n.id],
        )
        for n in snapshot.nodes
    )
    entries = [
        entry for c in snapshot.chargers if c.node_id in unmanaged for entry in _offline_chargers(c)
    ]
    plan = failsafe_plan(
        nodes,
        tuple(charger for _, charger in entries),
        limit_to_min_current=snapshot.offline_limit_to_min_current,
    )
    result: dict[EvseKey, Limit] = {}
    for key, charger in entries:
        setting = plan.charger(charger.charger_id)
        result[key] = Limit(setting.current, max(1, len(setting.grid_phases)))
    return result
