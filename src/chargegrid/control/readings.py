"""One session's meter reading, as the control loop takes it in.

``session.updated`` → the current per terminal (``measure``) → the learner (phases,
unused headroom) → the compliance watcher against what the charger acknowledged. The
loop publishes what this returns and recomputes the site when it matters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chargegrid.control import metrics
from chargegrid.control.apply import ApplyEngine, EvseKey
from chargegrid.control.compliance import EVENT, ComplianceWatcher, Transition, Violation
from chargegrid.control.learner import SessionLearner
from chargegrid.control.measure import EnergyRates, MeasureSettings, MeterSample, Terminals, derive
from chargegrid.control.problem import Built, rotation_of
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import ChargerSpec, ConnectorSpec, SessionSpec, SiteSnapshot
from chargegrid.domain.connectors import PowerType
from chargegrid.events import LimitViolation


@dataclass(frozen=True, slots=True)
class Taken:
    """What one reading changed."""

    learnt: bool  # phases, cap or where the current comes from: plan or view change
    transition: Transition | None  # a violation began or ended
    violating: bool  # the session is (still) not following its limit
    resend: EvseKey | None  # send this EVSE's limit again


NOTHING = Taken(False, None, False, None)
UNTRACKED = "untracked:"


def untracked_id(charger_id: str, connector_id: int) -> str:
    """What a connector's readings without a session are watched under: a charger that
    forgot a refused start (issue 11, rule 4) meters its car without a transactionId."""
    return f"{UNTRACKED}{charger_id}:{connector_id}"


def _where(
    snapshot: SiteSnapshot, built: Built | None, payload: dict[str, Any], session_id: str
) -> tuple[SessionSpec | None, ChargerSpec, ConnectorSpec, int] | None:
    """The session's place; for a session not running here (a refused start) its EVSE,
    if no running session is there (session None)."""
    if built is not None:
        ctx = built.contexts.get(session_id)
        if ctx is not None:
            return ctx.session, ctx.charger, ctx.connector, ctx.session.evse_number
    for session in snapshot.sessions:
        if session.id == session_id:
            charger = snapshot.charger(session.charger_id)
            if charger is None:
                return None
            connector = charger.connector(session.evse_number, session.connector_id)
            if connector is None:
                return None
            return session, charger, connector, session.evse_number
    charger = snapshot.charger(str(payload.get("charger_id")))
    connector_id = payload.get("connector_id")
    if charger is None or not isinstance(connector_id, int) or connector_id <= 0:
        return None
    for evse in charger.evses:
        for connector in evse.connectors:
            if connector.connector_id == connector_id:
                busy = any(
                    s.charger_id == charger.id and s.evse_number == evse.number
                    for s in snapshot.sessions
                )
                return None if busy else (None, charger, connector, evse.number)
    return None


def take_reading(
    payload: dict[str, Any],
    snapshot: SiteSnapshot | None,
    built: Built | None,
    planned_limit: float | None,
    *,
    learner: SessionLearner,
    energy: EnergyRates,
    watcher: ComplianceWatcher,
    engine: ApplyEngine,
    now: float,
    wall: datetime,
    measure: MeasureSettings | None = None,
) -> Taken:
    session_id = str(payload.get("session_id"))
    sample = MeterSample.from_payload(payload)
    rate = energy.observe(session_id, sample.at, sample.energy_wh)
    where = _where(snapshot, built, payload, session_id) if snapshot is not None else None
    if where is None:
        if session_id.startswith(UNTRACKED):
            return NOTHING  # a session runs there: its own readings are watched
        # Not planned here (yet): only what the charger measured per phase is taken.
        learnt = learner.observe(session_id, now, sample.current, planned_limit)
        return Taken(learnt, None, False, None)
    session, charger, connector, evse_number = where
    key = EvseKey(charger.id, evse_number)
    committed = engine.committed(key, session.transaction_id if session else None)
    learnt_terminals = learner.used_terminals(session_id)
    phases = rotation_of(connector.rotation).phase_count
    if charger.max_charge_phases == 1:
        phases = 1
    if committed is not None and committed.amps > 0:
        # Told to charge on fewer phases: it does, or it is over its limit on each.
        phases = min(phases, committed.phases)
    in_use = learnt_terminals or tuple(range(1, phases + 1))
    dc = PowerType(connector.power_type).is_dc
    measured = derive(
        sample,
        in_use=in_use,
        in_use_known=learnt_terminals is not None or dc,
        dc=dc,
        nominal_v=snapshot.voltage if snapshot is not None else 230.0,
        energy_rate_w=rate,
        settings=measure,
    )
    metrics.MEASURED_READINGS.labels(measured.source or "none").inc()
    if session is None:
        # Not running (a refused start): nothing to learn for a plan, only to watch.
        return _watch(watcher, session_id, key, now, wall, measured.current, committed, engine)
    # A new source (the first reading, or power after current) is worth a round: the
    # view says where its numbers come from. Other readings wait for the next round.
    new_source = learner.source(session_id) != measured.source
    learnt = new_source | learner.observe(
        session_id,
        now,
        measured.current,
        planned_limit,
        source=measured.source,
        split_known=measured.split_known,
    )
    return replace(
        _watch(watcher, session_id, key, now, wall, measured.current, committed, engine),
        learnt=learnt,
    )


def _watch(
    watcher: ComplianceWatcher,
    session_id: str,
    key: EvseKey,
    now: float,
    wall: datetime,
    current: Terminals,
    committed: Limit | None,
    engine: ApplyEngine,
) -> Taken:
    granted = engine.granted(key)
    changed_at = granted.changed_at if granted is not None and committed == granted.limit else None
    transition = watcher.observe(session_id, key, now, wall, current, committed, changed_at)
    if transition is not None:
        if not transition.ended:
            metrics.LIMIT_VIOLATIONS.inc()
        metrics.NOT_FOLLOWING_LIMIT.set(len(watcher.violations()))
    violating = watcher.violation(session_id) is not None
    resend = key if violating and watcher.resend_due(session_id, now) else None
    return Taken(False, transition, violating, resend)


def event_payload(
    violation: Violation,
    site_id: str | None,
    ocpp_id: str | None,
    connector_id: int | None,
    *,
    ended: bool,
    at: datetime,
    reason: str | None = None,
) -> LimitViolation:
    """The ``charger.limit_violation`` payload: once when it begins, once when it ends."""
    payload: LimitViolation = {
        "site_id": site_id,  # the event stream and webhooks are scoped by it
        "charger_id": violation.key.charger_id,
        "ocpp_id": ocpp_id,
        "evse_number": violation.key.evse_number,
        "connector_id": connector_id,
        # None: a draw without a session (a refused start the charger forgot).
        "session_id": None if violation.session_id.startswith(UNTRACKED) else violation.session_id,
        "limit_a": round(violation.limit_a, 2),
        "measured_a": round(violation.measured_a, 2),
        "since": violation.since_wall.isoformat(),
        "ended": ended,
    }
    if ended:
        payload["ended_at"] = at.isoformat()
        payload["reason"] = reason or "complied"
    return payload


__all__ = ["EVENT", "NOTHING", "Taken", "event_payload", "take_reading", "untracked_id"]
