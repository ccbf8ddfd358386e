"""Watch that each car draws no more than the limit its charger acknowledged.

A plan is safe on paper only if the cars follow it. A charger that acknowledges a
profile and lets its car draw more anyway (firmware that ignores TxProfiles, a car that
ignores the PWM signal, a session the charger thinks was refused) is found here from
its measured draw and from then on planned around at what it draws.

- **Over**: the highest terminal's draw exceeds the acknowledged limit by more than
  ``max(margin_a, margin_ratio x limit)`` (meters are accurate to a few %, and IEC
  61851 cars ramp with some overshoot).
- **Violation**: over in every reading for at least ``reaction_s``, counted from the
  first over reading and never from before the last *reduction* was acknowledged
  (IEC 61851-1 gives a car 5 s to follow a lower PWM duty cycle; the charger itself
  needs a moment to change the PWM after acknowledging). A raised limit the car has
  not ramped up to is never over, so it never counts.
- **Ended**: at the first reading within the limit (and its margin), when the session
  ends, or when its connector reports the car gone (``end_at``).

Not only running sessions are watched: a start we refused (issue 11, rule 4) is no
session to the plan, its EVSE idles at 0 A; a charger that lets the car draw anyway is
caught here like any other.

Only readings are evidence: a charger that stops reporting stays flagged at its last
measured draw until a reading shows it complies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chargegrid.control.apply import EvseKey
from chargegrid.control.measure import Terminals
from chargegrid.control.profiles import Limit
from chargegrid.events import CHARGER_LIMIT_VIOLATION

REASON = "not_following_limit"
# Drawing above its limit, still within the reaction time: held at its draw, not flagged.
ABOVE_LIMIT = "above_limit"
EVENT = CHARGER_LIMIT_VIOLATION


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    margin_a: float = 1.0  # at least this many A over the limit ...
    margin_ratio: float = 0.10  # ... or this share of it, whichever is more
    # IEC 61851-1's 5 s for the car, plus up to 5 s for the charger to move its PWM
    # after answering and for a meter that averages over its sample interval.
    reaction_s: float = 10.0
    resend_every_s: float = 30.0  # re-send the limit this often while it is not followed


@dataclass(frozen=True, slots=True)
class Violation:
    key: EvseKey
    session_id: str
    limit_a: float
    measured_a: float  # the highest terminal's draw at the latest reading
    measured: Terminals  # per connector terminal, at the latest reading
    since: float  # monotonic: over from here on
    since_wall: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    """A violation that began (``ended`` False) or ended (True) with this reading."""

    violation: Violation
    ended: bool


@dataclass(slots=True)
class _Watch:
    key: EvseKey
    limit_seen: float | None = None
    reduced_at: float | None = None  # when the last reduction was acknowledged
    over_since: float | None = None  # first reading of the current over run
    violation: Violation | None = None
    resent_at: float | None = None
    measured: Terminals = (None, None, None)  # at the latest reading
    seen_at: float | None = None


class ComplianceWatcher:
    def __init__(self, settings: ComplianceSettings | None = None) -> None:
        self.settings = settings or ComplianceSettings()
        self._watch: dict[str, _Watch] = {}

    def allowed(self, limit_a: float) -> float:
        """The most a car told ``limit_a`` may read before it counts as over."""
        s = self.settings
        return limit_a + max(s.margin_a, s.margin_ratio * limit_a)

    def observe(
        self,
        session_id: str,
        key: EvseKey,
        at: float,
        wall: datetime,
        measured: Terminals,
        limit: Limit | None,
        limit_changed_at: float | None = None,
    ) -> Transition | None:
        """One reading of ``session_id`` at ``at`` (monotonic; ``wall`` the same
        moment) against its acknowledged ``limit`` (``None``: nothing binds it, nothing
        to judge), last changed at ``limit_changed_at``."""
        known = [v for v in measured if v is not None]
        if limit is None or not known:
            return None
        watch = self._watch.get(session_id)
        if watch is None or watch.key != key:
            watch = self._watch[session_id] = _Watch(key)
            # A limit seen for the first time may have just been lowered.
            watch.reduced_at = limit_changed_at
        elif watch.limit_seen is not None and limit.amps < watch.limit_seen:
            watch.reduced_at = at if limit_changed_at is None else limit_changed_at
        watch.limit_seen = limit.amps
        watch.measured, watch.seen_at = measured, at
        draw = max(known)
        if draw <= self.allowed(limit.amps):
            watch.over_since = None
            ended = watch.violation
            if ended is None:
                return None
            watch.violation = watch.resent_at = None
            return Transition(_update(ended, limit.amps, draw, measured), ended=True)
        if watch.over_since is None:
            watch.over_since = at
        if watch.violation is not None:
            watch.violation = _update(watch.violation, limit.amps, draw, measured)
            return None
        since = max(watch.over_since, watch.reduced_at or watch.over_since)
        if at - since < self.settings.reaction_s:
            return None
        watch.violation = Violation(
            key,
            session_id,
            limit.amps,
            draw,
            measured,
            since,
            wall - timedelta(seconds=at - since),
        )
        return Transition(watch.violation, ended=False)

    def over(self, max_age_s: float, now: float) -> dict[str, tuple[EvseKey, Terminals]]:
        """Sessions whose latest reading (no older than ``max_age_s``) is over their limit
        but not (yet) a violation: their key and that reading. The current is flowing
        now, whatever the reason (a car still slowing down after a cut, or one that will
        turn out not to follow): plans count it at once; only the flag, the event and
        the hold wait for the reaction time."""
        return {
            sid: (w.key, w.measured)
            for sid, w in self._watch.items()
            if w.over_since is not None
            and w.violation is None
            and w.seen_at is not None
            and now - w.seen_at <= max_age_s
        }

    def violation(self, session_id: str) -> Violation | None:
        watch = self._watch.get(session_id)
        return None if watch is None else watch.violation

    def violations(self) -> dict[str, Violation]:
        return {sid: w.violation for sid, w in self._watch.items() if w.violation is not None}

    def resend_due(self, session_id: str, now: float) -> bool:
        """True (and noted) when the violator's limit should be sent again now."""
        watch = self._watch.get(session_id)
        if watch is None or watch.violation is None:
            return False
        if watch.resent_at is not None and now - watch.resent_at < self.settings.resend_every_s:
            return False
        watch.resent_at = now
        return True

    def end_at(self, key: EvseKey) -> list[Violation]:
        """Stop watching everything at ``key`` (its car is gone); the open violations."""
        gone = [sid for sid, w in self._watch.items() if w.key == key]
        ended = [v for sid in gone if (v := self.forget(sid)) is not None]
        return ended

    def forget(self, session_id: str) -> Violation | None:
        """Stop watching an ended session; its open violation, if any."""
        watch = self._watch.pop(session_id, None)
        return None if watch is None else watch.violation


def _update(v: Violation, limit_a: float, draw: float, measured: Terminals) -> Violation:
    return Violation(v.key, v.session_id, limit_a, draw, measured, v.since, v.since_wall)
