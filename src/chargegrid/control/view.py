"""The live load view: the JSON of docs/load-api.md, shared by ``GET /sites/{id}/load``,
its SSE stream and each ``site.load_changed`` event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chargegrid.balancing import Plan, SessionPlan
from chargegrid.control.learner import SessionLearner
from chargegrid.control.problem import Built, HeldEvse, Optional3, SessionContext, rotation_of
from chargegrid.control.snapshot import SessionSpec, SiteSnapshot
from chargegrid.domain.phases import ALL_PHASES, PhaseRotation

_KEYS = ("l1", "l2", "l3")


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_view(
    snapshot: SiteSnapshot,
    built: Built,
    plan: Plan,
    learner: SessionLearner,
    computed_at: datetime,
) -> dict[str, Any]:
    loads = {n.node_id: n for n in plan.nodes}
    nodes = []
    for spec in snapshot.nodes:
        load = loads.get(spec.id)
        if load is None:
            continue
        measured = built.measured.get(spec.id, (None, None, None))
        phases = {}
        for i, key in enumerate(_KEYS):
            # Held EVSEs (offline, flagged) are part of what the node carries.
            allocated = load.allocated[i] + load.reserved[i]
            phases[key] = {
                "limit": _num(load.limit[i]),
                "allocated": _num(allocated),
                "measured": _num(measured[i]),
                "unmanaged": _num(load.unmanaged[i]),
                "headroom": _num(load.limit[i] - load.unmanaged[i] - allocated),
            }
        nodes.append(
            {
                "id": spec.id,
                "kind": spec.kind,
                "name": spec.name,
                "parent_id": spec.parent_id,
                "phases": phases,
            }
        )
    sessions = [
        _planned(built.contexts[entry.session_id], entry.limit_a, entry.phases, entry, learner)
        for entry in plan.sessions
        if entry.session_id in built.contexts
    ]
    sessions += [_held(h, built, learner) for h in built.held if h.session is not None]
    return {
        "site_id": snapshot.site_id,
        "computed_at": _iso(computed_at),
        "nodes": nodes,
        "sessions": sessions,
    }


def _grid_measured(context: SessionContext, learner: SessionLearner) -> Optional3:
    return _on_grid(learner.measured(context.session.id), context.to_grid)


def _on_grid(terminals: Optional3, to_grid: PhaseRotation) -> Optional3:
    values: list[float | None] = [None, None, None]
    for terminal, value in enumerate(terminals, start=1):
        if value is not None and terminal <= to_grid.phase_count:
            values[to_grid.target(terminal).index] = value
    return (values[0], values[1], values[2])


def _deadline(session: SessionSpec) -> dict[str, Any]:
    """What the session's deadline is and where it came from (docs/deadlines.md)."""
    return {
        "departure_at": _iso(session.departure_time) if session.departure_time else None,
        "energy_wanted_wh": _num(session.energy_wanted_wh),
        "departure_source": session.departure_source,
        "departure_confidence": _num(session.departure_confidence),
        "energy_wanted_source": session.energy_wanted_source,
    }


def _planned(
    context: SessionContext,
    limit: float,
    phases: int,
    entry: SessionPlan,
    learner: SessionLearner,
) -> dict[str, Any]:
    measured = _grid_measured(context, learner)
    return {
        "session_id": context.session.id,
        "charger_id": context.charger.id,
        "evse_number": context.session.evse_number,
        "limit": _num(limit),
        "phases": phases,
        "grid_phases": [_KEYS[p.index] for p in entry.grid_phases],
        "measured": {k: _num(measured[i]) for i, k in enumerate(_KEYS)},
        "measured_source": learner.source(context.session.id),
        "reason": entry.reason,
        **_deadline(context.session),
    }


def _held(held: HeldEvse, built: Built, learner: SessionLearner) -> dict[str, Any]:
    assert held.session is not None
    session_id = held.session.id
    measured: Optional3 = (None, None, None)
    if held.charger is not None:
        connector = held.charger.connector(held.key.evse_number, held.session.connector_id)
        if connector is not None:
            rotation = built.node_to_grid[held.charger.node_id].then(
                rotation_of(connector.rotation)
            )
            measured = _on_grid(learner.measured(session_id), rotation)
    else:
        measured = learner.measured(session_id)
    grid = [p for p in ALL_PHASES if held.load[p.index] > 0]
    return {
        "session_id": session_id,
        "charger_id": held.key.charger_id,
        "evse_number": held.key.evse_number,
        "limit": _num(held.limit.amps),
        "phases": held.limit.phases,
        "grid_phases": [_KEYS[p.index] for p in grid],
        "measured": {k: _num(measured[i]) for i, k in enumerate(_KEYS)},
        "measured_source": learner.source(session_id),
        "reason": held.reason,
        **_deadline(held.session),
    }
