"""The apply engine: turn a plan into charging profiles, never overshooting on the way.

It keeps, per EVSE, what the charger has *acknowledged* and diffs each new plan
against that. A round goes in two waves:

1. every reduction (and every lease renewal) at once, waiting for each answer or its
   timeout;
2. only if all reductions were confirmed, every increase.

A reduction that is rejected or unanswered leaves the old, higher limit standing, so
the capacity it would have freed was never given away; the round reports
``increases_withheld`` and the loop recomputes with that EVSE held at its old limit.
An unanswered *increase* may still have reached the charger, so it is booked at the
higher of old and new. Either way the charger is flagged and left alone until a retry
time that doubles with each failure in a row (``retry_flagged_s`` up to
``retry_max_s``), so a charger that keeps saying no is not flooded.

**The held-limit rule.** What the engine books per EVSE is the *highest* limit the
charger may still obey, never lower until it acknowledges a lower profile: the last
acknowledged live limit until its lease (``validTo``) has passed, the acknowledged
failsafe after that. A reconnect, a reboot, a lost answer or a refusal changes none of
it: chargers may keep a TxProfile over a hard reset (the spec lets it live as long as
its transaction), so forgetting it would count the charger too low. A call that was
sent but never answered (a timeout, or the link dropped while waiting) may have been
applied: it is booked at the higher of old and new, and where nothing was known before
the EVSE is *uncertain* (whatever its hardware allows) until that call's lease ends.

Increases to one EVSE are held back for ``increase_holdoff_s`` after its last change
(a noisy meter must not make profiles flap); reductions are never delayed. Increases
under ``min_change`` A are not sent. Small *reductions* are sent all the same: skipping
one would let a car draw more than the plan on which the other cars' limits rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from chargegrid.control.evse_index import EvseIndex
from chargegrid.control.held import FOREVER, HeldJournal, HeldRecord
from chargegrid.control.ports import Clock, CommandGateway, StartingGateway
from chargegrid.control.profiles import (
    ACTION,
    FAILSAFE_PROFILE_BASE,
    FAILSAFE_STACK_LEVEL,
    LIVE_PROFILE_BASE,
    TX_PROFILE_BASE,
    ChargerCaps,
    Limit,
    Purpose,
    accepted,
    set_profile_payload,
)
from chargegrid.domain.errors import ChargerTimeout, Conflict

# A car drawing no more than this above its new limit is not slowed down by the cut.
RELEASE_SLACK_A = 0.5


@dataclass(frozen=True, slots=True, order=True)
class EvseKey:
    charger_id: str
    evse_number: int


@dataclass(frozen=True, slots=True)
class FailsafeTarget:
    """The limit one EVSE falls back to when the charger loses us."""

    key: EvseKey
    ocpp_id: str
    limit: Limit
    caps: ChargerCaps


@dataclass(frozen=True, slots=True)
class Setpoint:
    """What the plan wants at one EVSE."""

    key: EvseKey
    ocpp_id: str
    limit: Limit
    failsafe: Limit  # what the charger falls back to here when it loses us
    caps: ChargerCaps
    transaction_id: int | str | None = None
    # What its car draws now (highest terminal, A; a fresh reading), None: unknown.
    drawing: float | None = None
    # 2.0.1: the terminal a 1-phase car is put on (balancing.phase_choice), or None.
    phase_to_use: int | None = None


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    OFFLINE = "offline"


class StepKind(StrEnum):
    REDUCTION = "reduction"
    INCREASE = "increase"
    RENEWAL = "renewal"
    FAILSAFE = "failsafe"


@dataclass(frozen=True, slots=True)
class ApplySettings:
    min_change: float = 0.5  # A; smaller increases are not sent
    increase_holdoff_s: float = 2.0  # min. time between a change and the next increase
    lease_s: float = 120.0  # validTo of limits above the failsafe
    renew_before_s: float = 60.0  # renew a lease this long before it ends
    answer_timeout_s: float = 5.0  # how long a charger has to answer
    retry_flagged_s: float = 30.0  # leave a misbehaving charger alone this long ...
    retry_max_s: float = 600.0  # ... doubled for each failure in a row, up to this
    # IEC 61851-1 gives a car 5 s to follow a lower limit: until then a cut car may still
    # draw what it was allowed before (see ``ramping``).
    car_reaction_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Granted:
    """What a charger acknowledged at one EVSE (or may have, after a lost answer)."""

    limit: Limit
    transaction_id: int | str | None
    lease_until: float | None  # monotonic; None: no lease (at or below the failsafe)
    changed_at: float  # monotonic time of the last change in value


@dataclass(frozen=True, slots=True)
class Flag:
    reason: str
    since: float
    retry_at: float


@dataclass(frozen=True, slots=True)
class _Answer:
    """How one call of a wave ended: its outcome, and whether it left our socket (an
    unanswered call that was sent may have been applied)."""

    outcome: Outcome
    sent: bool


class ApplyObserver(Protocol):
    """Told about each profile sent and each answer (metrics, benchmarks)."""

    def profile_sent(self, key: EvseKey, kind: StepKind, at: float) -> None: ...

    def profile_answered(
        self, key: EvseKey, kind: StepKind, outcome: Outcome, at: float
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Step:
    setpoint: Setpoint
    limit: Limit
    kind: StepKind
    before: Limit | None = None  # what it may draw before this step (None: unknown)


@dataclass(frozen=True, slots=True)
class _Call:
    """One SetChargingProfile of a wave, and how to book its outcome."""

    ocpp_id: str
    key: EvseKey
    kind: StepKind
    payload: Mapping[str, Any]
    book: Callable[[_Answer, float], None]  # (the answer, monotonic time it was sent)


@dataclass(slots=True)
class ApplyReport:
    outcomes: dict[EvseKey, list[tuple[StepKind, Outcome]]] = field(default_factory=dict)
    skipped_small: list[EvseKey] = field(default_factory=list)
    held_flagged: list[EvseKey] = field(default_factory=list)
    deferred: list[EvseKey] = field(default_factory=list)
    retry_at: float | None = None  # earliest moment a deferred increase may go
    increases_withheld: bool = False  # a reduction failed: recompute with it held
    # A cut freed current its car may still draw for a while: plan again around it.
    increases_held: bool = False
    ramps_started: bool = False  # an acknowledged cut whose car may not have slowed down
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    last_answer_at: float | None = None

    @property
    def reductions_failed(self) -> bool:
        """A reduction (or failsafe) was not confirmed: its old, higher value stands, so
        the plan the others got no longer adds up; re-plan with it held."""
        return any(
            outcome is not Outcome.ACCEPTED
            for steps in self.outcomes.values()
            for kind, outcome in steps
            if kind in (StepKind.REDUCTION, StepKind.FAILSAFE)
        )

    @property
    def sent(self) -> int:
        return sum(len(v) for v in self.outcomes.values())

    def merged(self, later: ApplyReport) -> ApplyReport:
        """This report and a later one of the same round, as one."""
        out = ApplyReport(
            outcomes={k: list(v) for k, v in self.outcomes.items()},
            skipped_small=self.skipped_small + later.skipped_small,
            held_flagged=self.held_flagged + later.held_flagged,
            deferred=self.deferred + later.deferred,
            increases_withheld=self.increases_withheld or later.increases_withheld,
            increases_held=self.increases_held or later.increases_held,
            ramps_started=self.ramps_started or later.ramps_started,
            first_sent_at=self.first_sent_at or later.first_sent_at,
            last_sent_at=later.last_sent_at or self.last_sent_at,
            last_answer_at=later.last_answer_at or self.last_answer_at,
        )
        for key, steps in later.outcomes.items():
            out.outcomes.setdefault(key, []).extend(steps)
        for at in (self.retry_at, later.retry_at):
            if at is not None:
                out._note_retry(at)
        return out

    def _note_retry(self, at: float) -> None:
        self.retry_at = at if self.retry_at is None else min(self.retry_at, at)


class ApplyEngine:
    def __init__(
        self,
        gateway: CommandGateway,
        clock: Clock,
        settings: ApplySettings | None = None,
        observer: ApplyObserver | None = None,
        *,
        journal: HeldJournal | None = None,
        fence: Callable[[str], bool] | None = None,
    ) -> None:
        self._gateway = gateway
        # Cluster mode: bookings kept for the next owner of a site, and the check that
        # this node still owns a charger's site at the moment a frame is written.
        self._journal = journal
        self._fence = fence
        # A gateway that can start a call and hand back its answer's future lets a wave
        # go out from one task; any other is driven by a task per call.
        self._start = gateway.start if isinstance(gateway, StartingGateway) else self._start_by_send
        self._clock = clock
        self.settings = settings or ApplySettings()
        self._observer = observer
        self._granted: dict[EvseKey, Granted] = {}
        self._failsafe: dict[EvseKey, Limit] = {}
        self._failsafe_keys: EvseIndex[EvseKey] = EvseIndex()  # _failsafe's, by charger
        self._flags: dict[str, Flag] = {}
        self._failures: dict[str, int] = {}  # failures in a row, for the backoff
        self._offline: set[str] = set()  # not connected, or connected but not registered
        # EVSEs that may hold a live profile whose value we do not know (a call with
        # nothing known before it went unanswered), until that profile's lease ends.
        self._uncertain: dict[EvseKey, float] = {}
        # Chargers whose link dropped (they may have rebooted and lost their live
        # profiles), and the EVSEs that acknowledged a live limit since.
        self._relinked: set[str] = set()
        self._confirmed: EvseIndex[EvseKey] = EvseIndex()
        self._failsafe_due: set[EvseKey] = set()  # acknowledged, but to be sent again
        # Cut cars that may not have slowed down yet: what they may still draw, until when.
        self._ramping: dict[EvseKey, tuple[Limit | None, float]] = {}
        self._resend: set[EvseKey] = set()  # see resend()
        # Chargers of a site just taken over: no increase until then (monotonic), see
        # ``restore``.
        self._quiet: dict[str, float] = {}

    # --- what the loop reads -------------------------------------------------------

    def granted(self, key: EvseKey) -> Granted | None:
        return self._granted.get(key)

    def flags(self) -> Mapping[str, Flag]:
        return dict(self._flags)

    def is_offline(self, charger_id: str) -> bool:
        return charger_id in self._offline

    def steerable(self, charger_id: str) -> bool:
        """False while a charger is offline or flagged and not yet due for a retry."""
        if charger_id in self._offline:
            return False
        flag = self._flags.get(charger_id)
        return flag is None or self._clock.monotonic() >= flag.retry_at

    def committed(self, key: EvseKey, transaction_id: int | str | None = None) -> Limit | None:
        """The most the car at ``key`` may draw right now, as far as we can know.

        ``None`` means unknown: nothing acknowledged and no failsafe installed, or a
        profile of unknown value may be in force, so the charger may draw whatever its
        hardware allows.
        """
        granted = self._granted.get(key)
        # A TxProfile dies with its transaction (a new one starts on the failsafe), a
        # lease at its end.
        live = (
            granted.limit
            if granted is not None and self._in_force(granted, transaction_id)
            else None
        )
        failsafe = self._failsafe.get(key)
        if self.uncertain(key):
            return None
        if live is None:
            return failsafe
        if key.charger_id in self._relinked and key not in self._confirmed:
            # Since its link dropped it may obey its live limit, or only its failsafe if
            # it rebooted and dropped the live profile: the higher of the two.
            if failsafe is None:
                return None
            return Limit(max(live.amps, failsafe.amps), max(live.phases, failsafe.phases))
        return live

    def uncertain(self, key: EvseKey) -> bool:
        """A profile of unknown value may bind this EVSE: count it at its hardware."""
        until = self._uncertain.get(key)
        return until is not None and self._clock.monotonic() < until

    def failsafe_known(self, key: EvseKey) -> bool:
        """Acknowledged on this charger's current boot (else it goes out first)."""
        return key in self._failsafe and key not in self._failsafe_due

    def held_limits(self) -> dict[EvseKey, Limit | None]:
        """EVSEs the next plan must take as fixed: their charger cannot be steered now."""
        return {
            key: self.committed(key)
            for key in self._granted.keys() | self._failsafe.keys()
            if not self.steerable(key.charger_id)
        }

    # --- connection and session events -----------------------------------------------

    def charger_disconnected(self, charger_id: str) -> None:
        # It keeps its last profiles (leases run out by themselves, the failsafe stays),
        # unless it reboots and drops its live ones: see ``committed``.
        self._went_offline(charger_id)

    def _went_offline(self, charger_id: str) -> None:
        self._offline.add(charger_id)
        self._relinked.add(charger_id)
        self._confirmed.drop(charger_id)

    def charger_connected(self, charger_id: str) -> None:
        """A socket opened; nothing is sent until the charger is ready (registered on
        this connection). What it may obey is kept: a charger that rebooted may have
        kept its profiles, or dropped its live ones (the held-limit rule, above)."""
        self._went_offline(charger_id)

    def charger_ready(self, charger_id: str, *, rebooted: bool = False) -> None:
        """The charger spoke first on its new connection (and a BootNotification was
        accepted): steer it at once, a pending retry included; the backoff count stays
        until it acknowledges something. After a reboot its failsafe is sent again
        first (it should have kept it, but a swapped or reset unit has none); until
        then the one it acknowledged still bounds what it may draw."""
        self._offline.discard(charger_id)
        if rebooted:
            self._failsafe_due |= self._failsafe_keys.of(charger_id)
        flag = self._flags.get(charger_id)
        if flag is not None:
            now = self._clock.monotonic()
            self._flags[charger_id] = Flag(flag.reason, flag.since, min(flag.retry_at, now))

    def session_ended(self, key: EvseKey) -> None:
        self._granted.pop(key, None)
        self._ramping.pop(key, None)
        self._booked(key)

    def resend(self, key: EvseKey) -> None:
        """Send ``key``'s limit in the next apply even if it is the acknowledged one: its
        car does not follow it (control.compliance), so the charger may have lost or
        misapplied it. Sent in the first wave, as a renewal of the same value."""
        self._resend.add(key)

    # --- applying a plan ----------------------------------------------------------------

    async def apply(self, setpoints: Iterable[Setpoint]) -> ApplyReport:
        """Send what changed in one plan: reductions, then (if all were confirmed)
        increases.

        An acknowledged cut is not a car that slowed down: IEC 61851-1 gives it 5 s, and
        meanwhile the current the cut is to free still flows. A cut that frees current
        (its car draws more than the new limit, or its draw is unknown) starts a *ramp*:
        the car may draw what it was allowed before for ``car_reaction_s`` (``ramping``).
        The increases of the same plan were worked out as if it had slowed down already,
        so they are not sent (``increases_held``): the caller plans again, with the
        ramping cars counted at what they may still draw, and applies that plan.
        """
        report = ApplyReport()
        first: list[_Step] = []
        second: list[_Step] = []
        for setpoint in setpoints:
            if not self.steerable(setpoint.key.charger_id):
                report.held_flagged.append(setpoint.key)
                continue
            down, up = self._steps(setpoint, report)
            if down is not None:
                first.append(down)
            if up is not None:
                second.append(up)
        if first:
            await self._send_wave(first, report)
            self._note_ramps(first, report)
        if report.reductions_failed and second:
            report.increases_withheld = True
        elif report.ramps_started and second:
            report.increases_held = True
        elif second:
            await self._send_wave(second, report)
        return report

    def _note_ramps(self, steps: Sequence[_Step], report: ApplyReport) -> None:
        """Acknowledged cuts whose cars may not have slowed down yet."""
        if self.settings.car_reaction_s <= 0.0:
            return
        now = self._clock.monotonic()
        for step in steps:
            if step.kind is not StepKind.REDUCTION:
                continue
            outcomes = report.outcomes.get(step.setpoint.key, ())
            if not any(k is step.kind and o is Outcome.ACCEPTED for k, o in outcomes):
                continue
            before = step.before
            # Unknown draw: assume it draws what it was allowed (unknown: anything).
            drawing = step.setpoint.drawing
            if drawing is None and before is not None:
                drawing = before.amps
            if drawing is not None and drawing <= step.limit.amps + RELEASE_SLACK_A:
                continue  # it draws (at most) a hair above its new limit: nothing to free
            held = self._ramping.get(step.setpoint.key)
            if held is not None and now < held[1]:
                before = _higher(before, held[0])  # cut again while slowing down
            self._ramping[step.setpoint.key] = (before, now + self.settings.car_reaction_s)
            report.ramps_started = True
            report._note_retry(now + self.settings.car_reaction_s)

    def ramping(self) -> dict[EvseKey, tuple[Limit | None, float]]:
        """Cut cars that may still draw what they were allowed before (None: unknown,
        its hardware maximum), and since when (monotonic): count them at that until
        their reaction time is over."""
        now = self._clock.monotonic()
        over = [k for k, (_, until) in self._ramping.items() if now >= until]
        for key in over:
            del self._ramping[key]
        reaction = self.settings.car_reaction_s
        return {k: (before, until - reaction) for k, (before, until) in self._ramping.items()}

    def followed(self, key: EvseKey) -> None:
        """A reading shows the car at ``key`` within its new limit: its ramp is over."""
        self._ramping.pop(key, None)

    def _steps(self, sp: Setpoint, report: ApplyReport) -> tuple[_Step | None, _Step | None]:
        """Split one change into a reduction (first wave) and an increase (second wave).

        A change that lowers some phases and raises others (3 x 6 A -> 1 x 16 A) becomes
        both: first down to what old and new have in common, then up.
        """
        new = self._layered(sp)
        old = self.committed(sp.key, sp.transaction_id)
        if old is None:
            return _Step(sp, new, StepKind.REDUCTION, None), None
        # _live_grant, without working out ``committed`` a second time.
        granted = self._granted.get(sp.key)
        if granted is not None and not self._in_force(granted, sp.transaction_id):
            granted = None
        if new.amps <= 0.0:
            new = Limit(0.0, old.phases)  # no current on any phase: the count is moot
        down = Limit(min(old.amps, new.amps), min(old.phases, new.phases))
        first = _Step(sp, down, StepKind.REDUCTION, old) if down != old else None
        second: _Step | None = None
        if new == down:
            pass
        elif new.phases == down.phases and new.amps - down.amps < self.settings.min_change:
            report.skipped_small.append(sp.key)
        elif (
            first is None and granted is not None and not self._holdoff_over(granted, report)
        ) or self._quieted(sp.key.charger_id, report):
            report.deferred.append(sp.key)  # a held-back increase, or a site just taken over
        else:
            second = _Step(sp, new, StepKind.INCREASE)
        if first is None and second is None and granted is not None and self._lease_due(granted):
            first = _Step(sp, old, StepKind.RENEWAL)
        if first is None and granted is None and self._can_layer(sp.caps):
            # Only the failsafe binds here, at the plan's value: pin it with a live
            # profile all the same, or raising the failsafe later (it goes out after the
            # live limits) would let this car draw more than the plan gave it.
            first = _Step(sp, old, StepKind.RENEWAL)
        if self._resend and sp.key in self._resend:
            self._resend.discard(sp.key)
            if first is None and second is None:
                first = _Step(sp, old, StepKind.RENEWAL)
        return first, second

    def _in_force(self, granted: Granted, transaction_id: int | str | None) -> bool:
        """Whether an acknowledged live limit binds this transaction now (``committed``)."""
        return (
            transaction_id is None
            or granted.transaction_id is None
            or granted.transaction_id == transaction_id
        ) and (granted.lease_until is None or self._clock.monotonic() < granted.lease_until)

    def _live_grant(self, key: EvseKey, transaction_id: int | str | None) -> Granted | None:
        """The acknowledged live limit, if it still binds this transaction now."""
        granted = self._granted.get(key)
        if granted is None or self.committed(key, transaction_id) != granted.limit:
            return None
        return granted

    def _holdoff_over(self, granted: Granted, report: ApplyReport) -> bool:
        ready_at = granted.changed_at + self.settings.increase_holdoff_s
        if self._clock.monotonic() >= ready_at:
            return True
        report._note_retry(ready_at)
        return False

    @staticmethod
    def _can_layer(caps: ChargerCaps) -> bool:
        return caps.tx_profile_supported or caps.live_stack_level > FAILSAFE_STACK_LEVEL

    def _layered(self, sp: Setpoint) -> Limit:
        """A charger that can hold only one default profile would lose its failsafe to a
        live one; such a charger never gets more than its failsafe."""
        if self._can_layer(sp.caps):
            return sp.limit
        return Limit(min(sp.limit.amps, sp.failsafe.amps), min(sp.limit.phases, sp.failsafe.phases))

    def _lease_due(self, granted: Granted) -> bool:
        if granted.lease_until is None:
            return False
        return granted.lease_until - self._clock.monotonic() <= self.settings.renew_before_s

    async def _send_wave(self, steps: Sequence[_Step], report: ApplyReport) -> None:
        # One lease end for the whole wave: the same instant for every charger.
        valid_to = self._clock.utcnow() + timedelta(seconds=self.settings.lease_s)
        calls = [self._live_call(step, valid_to) for step in steps]
        if self._journal is not None:
            lease = self._clock.monotonic() + self.settings.lease_s
            await self._write_ahead(
                [
                    self._record(
                        s.setpoint.key,
                        self._if_unanswered(s, lease if self._can_layer(s.setpoint.caps) else None),
                    )
                    for s in steps
                ]
            )
        outcomes = await self._wave(calls, report)
        for step, outcome in zip(steps, outcomes, strict=True):
            report.outcomes.setdefault(step.setpoint.key, []).append((step.kind, outcome))

    def _live_call(self, step: _Step, valid_to: datetime) -> _Call:
        sp = step.setpoint
        # Every live limit is a lease, whether above or below the failsafe: a charger
        # that loses us must end up on the failsafe plan, which is the one that holds
        # with everybody offline. Only a charger whose live profile would replace its
        # failsafe (one default slot) is not leased; its limit is capped instead.
        leased = self._can_layer(sp.caps)
        purpose = (
            Purpose.TX
            if sp.caps.tx_profile_supported and sp.transaction_id is not None
            else Purpose.TX_DEFAULT
        )
        payload = set_profile_payload(
            caps=sp.caps,
            evse_number=sp.key.evse_number,
            limit=step.limit,
            purpose=purpose,
            profile_id=(TX_PROFILE_BASE if purpose is Purpose.TX else LIVE_PROFILE_BASE)
            + sp.key.evse_number,
            stack_level=sp.caps.live_stack_level,
            transaction_id=sp.transaction_id if purpose is Purpose.TX else None,
            valid_to=valid_to if leased else None,
            phase_to_use=sp.phase_to_use,
        )

        def book(answer: _Answer, sent_at: float) -> None:
            lease = sent_at + self.settings.lease_s if leased else None
            self._book(step, answer, sent_at, lease)

        return _Call(sp.ocpp_id, sp.key, step.kind, payload, book)

    def _book(self, step: _Step, answer: _Answer, sent_at: float, lease: float | None) -> None:
        sp = step.setpoint
        old = self._live_grant(sp.key, sp.transaction_id)
        outcome = answer.outcome
        if outcome is Outcome.ACCEPTED:
            changed_at = old.changed_at if old is not None and old.limit == step.limit else sent_at
            self._granted[sp.key] = Granted(step.limit, sp.transaction_id, lease, changed_at)
            self._uncertain.pop(sp.key, None)
            if sp.key.charger_id in self._relinked:
                self._confirmed.add(sp.key)
            self._succeeded(sp.key.charger_id)
            self._booked(sp.key)
            return
        # Worked out before the link is marked (offline changes what ``committed`` says).
        unanswered = self._if_unanswered(step, lease, sent_at)
        if outcome is Outcome.OFFLINE:
            self._went_offline(sp.key.charger_id)
        else:
            self._flag(sp.key.charger_id, outcome)
        if not answer.sent or outcome is Outcome.REJECTED:
            return  # the charger still holds what it held before
        # Sent but never answered: the charger may have applied it after all.
        granted, uncertain = unanswered
        if uncertain is not None:
            self._uncertain[sp.key] = uncertain
        if granted is not None:
            self._granted[sp.key] = granted
        self._booked(sp.key)

    def _if_unanswered(
        self, step: _Step, lease: float | None, sent_at: float | None = None
    ) -> tuple[Granted | None, float | None]:
        """What to book for a call that may have been applied without our knowing:
        the higher of before and the call's value with the later lease end, or, with
        nothing known before, *uncertain* until the call's lease ends. (The grant to
        book, or None to keep it; the uncertainty's end, or None.)"""
        sp = step.setpoint
        before = self.committed(sp.key, sp.transaction_id)
        if before is None:
            until = lease if lease is not None else float("inf")
            return None, max(self._uncertain.get(sp.key, 0.0), until)
        old = self._live_grant(sp.key, sp.transaction_id)
        joined = Limit(max(before.amps, step.limit.amps), max(before.phases, step.limit.phases))
        leases = [x for x in (old.lease_until if old else None, lease) if x is not None]
        changed_at = sent_at if sent_at is not None else self._clock.monotonic()
        return Granted(joined, sp.transaction_id, max(leases) if leases else None, changed_at), None

    def _flag(self, charger_id: str, outcome: Outcome) -> None:
        now = self._clock.monotonic()
        failures = self._failures.get(charger_id, 0) + 1
        self._failures[charger_id] = failures
        s = self.settings
        wait = min(s.retry_flagged_s * 2 ** min(failures - 1, 30), s.retry_max_s)
        self._flags[charger_id] = Flag(outcome.value, now, now + wait)

    def _succeeded(self, charger_id: str) -> None:
        self._flags.pop(charger_id, None)
        self._failures.pop(charger_id, None)

    async def _wave(self, calls: Sequence[_Call], report: ApplyReport) -> list[Outcome]:
        """Send every call from this one task, then wait until every one is answered or
        ``answer_timeout_s`` has passed since the last was sent; the outcomes in the
        order of ``calls``.

        Each call is booked the moment its answer arrives (or at once, if it could not
        be sent; a call still unanswered at the deadline as timed out), exactly as when
        each call had its own task and deadline; only the writes are no longer
        interleaved with reading answers, and there is no task and no timer per call.
        """
        outcomes: list[Outcome | None] = [None] * len(calls)
        sent_at: list[float] = [0.0] * len(calls)
        flying: dict[asyncio.Future[Any], int] = {}

        def finish(index: int, outcome: Outcome, sent: bool = True) -> None:
            if outcomes[index] is not None:
                return
            outcomes[index] = outcome
            call = calls[index]
            answered_at = self._clock.monotonic()
            report.last_answer_at = answered_at
            if self._observer is not None:
                self._observer.profile_answered(call.key, call.kind, outcome, answered_at)
            call.book(_Answer(outcome, sent), sent_at[index])

        def answered(future: asyncio.Future[Any]) -> None:
            index = flying.get(future)
            if index is not None and not future.cancelled():
                finish(index, _outcome(future))

        try:
            for index, call in enumerate(calls):
                now = sent_at[index] = self._clock.monotonic()
                report.first_sent_at = report.first_sent_at or now
                report.last_sent_at = now
                if self._observer is not None:
                    self._observer.profile_sent(call.key, call.kind, now)
                if self._fence is not None and not self._fence(call.key.charger_id):
                    # This node no longer owns the charger's site (its lease ran out
                    # during the wave): nothing more may go out for it.
                    finish(index, Outcome.REJECTED, sent=False)
                    continue
                try:
                    future = await self._start(call.ocpp_id, ACTION, call.payload)
                except Exception as exc:  # nothing was sent
                    finish(index, _failure(exc), sent=False)
                    continue
                flying[future] = index
                future.add_done_callback(answered)
            if flying:
                # The deadline counts from the last call sent, so every call has at
                # least answer_timeout_s (the wave went out within milliseconds).
                await asyncio.wait(flying, timeout=self.settings.answer_timeout_s)
        finally:
            # Timed out, or the round is being stopped: the gateway forgets the call.
            for future in flying:
                future.cancel()
        # Our callbacks ran before asyncio.wait's own (registered first); this only
        # guards the order should that ever change.
        for future, index in flying.items():
            if future.done() and not future.cancelled():
                answered(future)
            if outcomes[index] is None:
                finish(index, Outcome.TIMEOUT)
        return [o if o is not None else Outcome.TIMEOUT for o in outcomes]

    async def _start_by_send(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Any]:
        """For a gateway without ``start``: a task per call, as before."""
        return asyncio.ensure_future(
            self._gateway.send(ocpp_id, action, payload, self.settings.answer_timeout_s)
        )

    # --- the failsafe default -------------------------------------------------------------

    async def install_failsafes(self, targets: Iterable[FailsafeTarget]) -> ApplyReport:
        """Install each EVSE's failsafe where it changed, lowered ones first: a car may be
        drawing at its failsafe right now."""
        report = ApplyReport()
        lower: list[FailsafeTarget] = []
        higher: list[FailsafeTarget] = []
        for target in targets:
            # Not while it cannot be steered: a refusing charger is retried with backoff,
            # not on every round (one answered each call with a CallError ~230 times/s).
            if not self.steerable(target.key.charger_id):
                report.held_flagged.append(target.key)
                continue
            current = self._failsafe.get(target.key)
            if current == target.limit and target.key not in self._failsafe_due:
                continue
            raising = current is not None and target.limit.covers(current)
            if raising and current != target.limit and self._quieted(target.key.charger_id, report):
                report.deferred.append(target.key)
                continue
            (higher if raising else lower).append(target)
        for wave in (lower, higher):
            if not wave:
                continue
            if self._journal is not None:
                await self._write_ahead(
                    [self._record(t.key, failsafe=self._failsafe_joined(t)) for t in wave]
                )
            outcomes = await self._wave([self._failsafe_call(t) for t in wave], report)
            for target, outcome in zip(wave, outcomes, strict=True):
                report.outcomes.setdefault(target.key, []).append((StepKind.FAILSAFE, outcome))
            if wave is lower and any(o is not Outcome.ACCEPTED for o in outcomes):
                report.increases_withheld = bool(higher)
                break
        return report

    def _failsafe_call(self, target: FailsafeTarget) -> _Call:
        key = target.key
        payload = set_profile_payload(
            caps=target.caps,
            evse_number=key.evse_number,
            limit=target.limit,
            purpose=Purpose.TX_DEFAULT,
            profile_id=FAILSAFE_PROFILE_BASE + key.evse_number,
            stack_level=FAILSAFE_STACK_LEVEL,
        )

        def book(answer: _Answer, sent_at: float) -> None:
            outcome = answer.outcome
            if outcome is Outcome.ACCEPTED:
                self._failsafe[key] = target.limit
                self._failsafe_keys.add(key)
                self._failsafe_due.discard(key)
                self._succeeded(key.charger_id)
                self._booked(key)
                return
            if outcome is Outcome.OFFLINE:
                self._went_offline(key.charger_id)
            else:
                self._flag(key.charger_id, outcome)
            if not answer.sent or outcome is Outcome.REJECTED:
                return  # it still holds its old failsafe, if any
            # Either may be in force now: the higher of the two, or unknown.
            joined = self._failsafe_joined(target)
            if joined is not None:
                self._failsafe[key] = joined
                self._booked(key)

        return _Call(target.ocpp_id, key, StepKind.FAILSAFE, payload, book)

    def _failsafe_joined(self, target: FailsafeTarget) -> Limit | None:
        """The failsafe a charger may hold after an unanswered install: the higher of
        old and new, or None (unknown) when it had none."""
        old = self._failsafe.get(target.key)
        if old is None:
            return None
        return Limit(max(old.amps, target.limit.amps), max(old.phases, target.limit.phases))

    # --- cluster mode: the bookings a site's next owner starts from ---------------------

    def _record(
        self,
        key: EvseKey,
        pending: tuple[Granted | None, float | None] | None = None,
        failsafe: Limit | None = None,
    ) -> HeldRecord:
        """``key``'s booking in wall-clock time; with ``pending`` (a call about to go
        out, as ``_if_unanswered`` books it) or a ``failsafe`` about to be installed
        (its joined value) counted as if it had been applied."""
        granted = self._granted.get(key)
        uncertain = self._uncertain.get(key)
        if pending is not None:
            granted = pending[0] or granted
            if pending[1] is not None:
                uncertain = max(uncertain or 0.0, pending[1])
        held_failsafe = self._failsafe.get(key)
        if failsafe is not None and held_failsafe is not None:
            held_failsafe = Limit(
                max(failsafe.amps, held_failsafe.amps), max(failsafe.phases, held_failsafe.phases)
            )
        elif failsafe is not None or key not in self._failsafe:
            held_failsafe = None  # an unknown one may be installed: none to count on
        return HeldRecord(
            key.charger_id,
            key.evse_number,
            granted.limit if granted is not None else None,
            granted.transaction_id if granted is not None else None,
            self._wall(granted.lease_until) if granted is not None else None,
            held_failsafe,
            self._wall(uncertain) if uncertain is not None else None,
        )

    def _wall(self, mono: float | None) -> datetime | None:
        """A moment in wall-clock time, rounded *up* to the second: an end that comes
        later is the safe side, and equal bookings give equal records (the journal
        writes only what changed)."""
        if mono is None or mono == float("inf"):
            return None if mono is None else FOREVER
        wall = self._clock.utcnow() + timedelta(seconds=mono - self._clock.monotonic())
        whole = wall.replace(microsecond=0)
        return whole if whole == wall else whole + timedelta(seconds=1)

    def _mono(self, wall: datetime | None) -> float | None:
        if wall is None:
            return None
        if wall >= FOREVER:
            return float("inf")
        return self._clock.monotonic() + (wall - self._clock.utcnow()).total_seconds()

    async def _write_ahead(self, records: list[HeldRecord]) -> None:
        assert self._journal is not None
        await self._journal.write_ahead(records)

    def _booked(self, key: EvseKey) -> None:
        if self._journal is not None:
            self._journal.booked([self._record(key)])

    def _quieted(self, charger_id: str, report: ApplyReport) -> bool:
        """An increase must wait: the charger's site was just taken over."""
        until = self._quiet.get(charger_id)
        if until is None:
            return False
        if self._clock.monotonic() >= until:
            del self._quiet[charger_id]
            return False
        report._note_retry(until)
        return True

    def forget(self, charger_ids: Iterable[str]) -> None:
        """Drop everything booked for these chargers (their site went to another node;
        if it comes back, it is restored from the journal, which is newer)."""
        ids = set(charger_ids)
        for table in (self._granted, self._uncertain, self._ramping):
            for key in [k for k in table if k.charger_id in ids]:
                del table[key]
        for key in [k for k in self._failsafe if k.charger_id in ids]:
            del self._failsafe[key]
        self._failsafe_due -= {k for k in self._failsafe_due if k.charger_id in ids}
        self._resend -= {k for k in self._resend if k.charger_id in ids}
        for charger_id in ids:
            self._failsafe_keys.drop(charger_id)
            self._confirmed.drop(charger_id)
            self._relinked.discard(charger_id)
            self._flags.pop(charger_id, None)
            self._failures.pop(charger_id, None)
            self._quiet.pop(charger_id, None)

    def restore(self, records: Iterable[HeldRecord]) -> int:
        """Start from another owner's bookings (a site taken over). Each charger is
        counted as one whose link dropped: at the higher of its live limit (while its
        lease runs) and its failsafe until it acknowledges a live limit from us; a
        profile of unknown value at its hardware maximum until that one's lease ends.
        Increases wait ``car_reaction_s``: a car the old owner cut just before it went
        may still be slowing down, and this node never saw the cut. The EVSEs restored."""
        now = self._clock.monotonic()
        count = 0
        for r in records:
            key = EvseKey(r.charger_id, r.evse_number)
            count += 1
            if r.live is not None:
                self._granted[key] = Granted(r.live, r.live_tx, self._mono(r.live_until), now)
            if r.failsafe is not None:
                self._failsafe[key] = r.failsafe
                self._failsafe_keys.add(key)
            uncertain = self._mono(r.uncertain_until)
            if uncertain is not None and uncertain > now:
                self._uncertain[key] = uncertain
            self._relinked.add(r.charger_id)
            self._confirmed.drop(r.charger_id)
            self._quiet[r.charger_id] = now + self.settings.car_reaction_s
        return count


def _higher(a: Limit | None, b: Limit | None) -> Limit | None:
    if a is None or b is None:
        return None
    return Limit(max(a.amps, b.amps), max(a.phases, b.phases))


def _failure(exc: BaseException) -> Outcome:
    if isinstance(exc, Conflict):
        return Outcome.OFFLINE
    if isinstance(exc, ChargerTimeout | TimeoutError):
        return Outcome.TIMEOUT
    return Outcome.REJECTED  # a CallError or a malformed answer: the charger said no


def _outcome(answer: asyncio.Future[Any]) -> Outcome:
    error = answer.exception()
    if error is not None:
        return _failure(error)
    return Outcome.ACCEPTED if accepted(answer.result()) else Outcome.REJECTED
