"""What cars really draw against what they were told, for the plan.

- **Reacting**: a car over its acknowledged limit at its latest fresh reading, not (yet)
  a violation: counted at its draw at once (compliance.over; ``above_limit``).
- **Ramping**: a car just cut whose draw may still be its old limit (IEC 61851-1 gives it
  5 s): counted at that until it has had the time or a reading since shows it followed
  (ApplyEngine.ramping; ``slowing_down``). It is told its target limit, never more than
  its cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from chargegrid.control.apply import RELEASE_SLACK_A, ApplyEngine, EvseKey, Setpoint
from chargegrid.control.compliance import ComplianceWatcher
from chargegrid.control.learner import SessionLearner
from chargegrid.control.ports import Clock
from chargegrid.control.problem import SESSION_READING_MAX_AGE_S, Optional3
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import SessionSpec, SiteSnapshot


class DrawWatch:
    def __init__(
        self,
        engine: ApplyEngine,
        learner: SessionLearner,
        compliance: ComplianceWatcher,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._learner = learner
        self._compliance = compliance
        self._clock = clock

    def drawing(self, session_id: str) -> float | None:
        """What a session's car draws now (highest terminal), if a fresh reading says."""
        seen_at = self._learner.measured_at(session_id)
        if seen_at is None or self._clock.monotonic() - seen_at > SESSION_READING_MAX_AGE_S:
            return None
        known = [v for v in self._learner.measured(session_id) if v is not None]
        return max(known) if known else None

    def reacting(
        self, snapshot: SiteSnapshot, now: float, violating: Mapping[EvseKey, Optional3]
    ) -> dict[EvseKey, Optional3]:
        """This site's EVSEs whose car drew more than its limit at its latest fresh
        reading, not (yet) a violation: what it drew per connector terminal."""
        over = self._compliance.over(SESSION_READING_MAX_AGE_S, now)
        if not over:
            return {}
        here = {c.id for c in snapshot.chargers}
        tx_at = {EvseKey(s.charger_id, s.evse_number): s.transaction_id for s in snapshot.sessions}
        return {
            key: measured
            for key, measured in over.values()
            if key.charger_id in here and key not in violating and self._told_its_own(key, tx_at)
        }

    def _told_its_own(self, key: EvseKey, tx_at: Mapping[EvseKey, int | str | None]) -> bool:
        """Whether a session's car was told a limit of its own (a TxProfile for it, or any
        live limit where no session runs): a car that started before its first limit is
        over the idle EVSE's 0 A, but what it needs is that first limit, not a hold."""
        granted = self._engine.granted(key)
        tx = tx_at.get(key)
        return tx is None or (granted is not None and granted.transaction_id == tx)

    def ramping(self, snapshot: SiteSnapshot, held: frozenset[str]) -> dict[EvseKey, Limit | None]:
        """This site's cut cars that may not have slowed down yet, and what they may still
        draw; one whose reading since the cut shows it within its new limit followed."""
        ramping = self._engine.ramping()
        if not ramping:
            return {}
        here = {c.id for c in snapshot.chargers} - held
        session_at = {EvseKey(s.charger_id, s.evse_number): s for s in snapshot.sessions}
        out: dict[EvseKey, Limit | None] = {}
        for key, (before, since) in ramping.items():
            if key.charger_id not in here:
                continue
            session = session_at.get(key)
            if session is not None and self._followed(key, session, since):
                self._engine.followed(key)
                continue
            out[key] = before
        return out

    def _followed(self, key: EvseKey, session: SessionSpec, since: float) -> bool:
        seen_at = self._learner.measured_at(session.id)
        drawing = self.drawing(session.id)
        allowed = self._engine.committed(key, session.transaction_id)
        return (
            seen_at is not None
            and seen_at > since
            and drawing is not None
            and allowed is not None
            and drawing <= allowed.amps + RELEASE_SLACK_A
        )

    def told(self, target: Setpoint) -> Setpoint:
        """A car slowing down after a cut gets its target limit, never more than the cut
        it was given: a further cut still reaches it, a raise waits until it is done."""
        told = self._engine.committed(target.key, target.transaction_id)
        if told is None or target.limit.amps <= told.amps:
            return target
        return replace(target, limit=told)
