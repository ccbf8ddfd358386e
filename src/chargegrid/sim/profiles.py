"""A charger's charging-profile stack (OCPP 1.6 §3.13), as a real charger evaluates it.

TxProfile beats TxDefaultProfile; within a purpose the highest stack level that is
valid now and has a period running wins; ChargePointMaxProfile caps the whole
charger; a TxProfile ends with its transaction. Limits in W become A per phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.sim.state import TxId

MAX_STACK_LEVEL = 8
_PERIOD = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Limit:
    amps: float | None  # None: no profile applies
    phases: int | None  # numberPhases of the winning period, if given
    phase_to_use: int | None = None  # 2.0.1: the conductor a 1-phase period uses


@dataclass
class Installed:
    connector_id: int
    id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    transaction_id: TxId | None
    rate_unit: str
    duration: int | None
    start_schedule: datetime | None
    periods: list[tuple[int, float, int | None, int | None]]
    installed_at: datetime
    source: dict[str, Any] | None = None  # the profile as the CSMS sent it (for reports)

    @classmethod
    def parse(cls, connector_id: int, p: dict[str, Any], now: datetime) -> Installed:
        schedule = p["chargingSchedule"]
        periods = sorted(
            (
                int(x["startPeriod"]),
                float(x["limit"]),
                x.get("numberPhases"),
                x.get("phaseToUse"),
            )
            for x in schedule["chargingSchedulePeriod"]
        )
        return cls(
            connector_id=connector_id,
            id=p["chargingProfileId"],
            stack_level=p["stackLevel"],
            purpose=p["chargingProfilePurpose"],
            kind=p["chargingProfileKind"],
            recurrency=p.get("recurrencyKind"),
            valid_from=_time(p.get("validFrom")),
            valid_to=_time(p.get("validTo")),
            transaction_id=p.get("transactionId"),
            rate_unit=schedule["chargingRateUnit"],
            duration=schedule.get("duration"),
            start_schedule=_time(schedule.get("startSchedule")),
            periods=periods,
            installed_at=now,
        )

    def value_at(self, now: datetime, tx_started: datetime | None) -> Limit | None:
        """This profile's limit at ``now``, or None if it says nothing then."""
        if self.valid_from is not None and now < self.valid_from:
            return None
        if self.valid_to is not None and now >= self.valid_to:
            return None
        start = self._start(now, tx_started)
        if start is None or now < start:
            return None
        elapsed = (now - start).total_seconds()
        if self.duration is not None and elapsed >= self.duration:
            return None
        active = [p for p in self.periods if p[0] <= elapsed]
        if not active:
            return None
        _, limit, phases, phase_to_use = active[-1]
        if self.rate_unit == "W":
            limit = limit / (DEFAULT_NOMINAL_VOLTAGE * (phases or 3))
        return Limit(limit, phases, phase_to_use if phases == 1 else None)

    def changes(
        self, now: datetime, until: datetime, tx_started: datetime | None
    ) -> list[datetime]:
        """The instants in [now, until) at which this profile's value may change (for a
        composite schedule): its validity bounds, period starts and end, over recurrences."""
        out = [t for t in (self.valid_from, self.valid_to) if t is not None]
        start = self._start(now, tx_started)
        period = _PERIOD.get(self.recurrency or "") if self.kind == "Recurring" else None
        while start is not None and start < until:
            out.append(start)
            out.extend(start + timedelta(seconds=p[0]) for p in self.periods)
            if self.duration is not None:
                out.append(start + timedelta(seconds=self.duration))
            start = start + period if period is not None else None
        return sorted(t for t in set(out) if now <= t < until)

    def _start(self, now: datetime, tx_started: datetime | None) -> datetime | None:
        if self.kind == "Relative":
            return tx_started or self.installed_at
        start = self.start_schedule or self.valid_from or self.installed_at
        if self.kind == "Recurring" and self.recurrency in _PERIOD:
            period = _PERIOD[self.recurrency]
            while start + period <= now:
                start += period
        return start


class ProfileStack:
    def __init__(self, connectors: int, max_stack_level: int = MAX_STACK_LEVEL) -> None:
        self.connectors = connectors
        self.max_stack_level = max_stack_level
        self.profiles: list[Installed] = []

    def install(
        self,
        connector_id: int,
        profile: dict[str, Any],
        tx_id: TxId | None,
        now: datetime,
        *,
        starting: bool = False,
        source: dict[str, Any] | None = None,
    ) -> str:
        """SetChargingProfile: Accepted or Rejected, as a 1.6 charger decides it.
        ``starting``: the TxProfile of a RemoteStartTransaction, for the transaction it
        starts (which has no id yet)."""
        try:
            new = Installed.parse(connector_id, profile, now)
        except (KeyError, ValueError):
            return "Rejected"
        if connector_id > self.connectors or new.stack_level > self.max_stack_level:
            return "Rejected"
        if new.purpose == "ChargePointMaxProfile" and connector_id != 0:
            return "Rejected"
        if new.purpose == "TxProfile":
            # Only for a running transaction on that connector (§5.16.2).
            if connector_id == 0 or (tx_id is None and not starting):
                return "Rejected"
            if new.transaction_id is not None and new.transaction_id != tx_id:
                return "Rejected"
        self.profiles = [
            p
            for p in self.profiles
            if p.id != new.id
            and not (
                p.connector_id == connector_id
                and p.purpose == new.purpose
                and p.stack_level == new.stack_level
            )
        ]
        new.source = source
        self.profiles.append(new)
        return "Accepted"

    def clear(
        self,
        profile_id: int | None,
        connector_id: int | None,
        purpose: str | None,
        stack_level: int | None,
    ) -> str:
        def matches(p: Installed) -> bool:
            if profile_id is not None:
                return p.id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        removed = len(kept) != len(self.profiles)
        self.profiles = kept
        return "Accepted" if removed else "Unknown"

    def forget_tx_profiles(self) -> None:
        """A reboot that does not persist TxProfiles (the rest is persisted)."""
        self.profiles = [p for p in self.profiles if p.purpose != "TxProfile"]

    def transaction_ended(self, connector_id: int) -> None:
        self.profiles = [
            p
            for p in self.profiles
            if not (p.purpose == "TxProfile" and p.connector_id == connector_id)
        ]

    def limit(
        self,
        connector_id: int,
        now: datetime,
        tx_id: TxId | None,
        tx_started: datetime | None,
        *,
        ignore_tx_default: bool = False,
    ) -> Limit:
        """The connector's own limit (TxProfile, else TxDefaultProfile unless the
        charger ignores those)."""
        purposes = ("TxProfile",) if ignore_tx_default else ("TxProfile", "TxDefaultProfile")
        for purpose in purposes:
            for scope in (connector_id, 0):
                found = self._best(purpose, scope, now, tx_id, tx_started)
                if found is not None:
                    return found
        return Limit(None, None)

    def charger_cap(self, now: datetime) -> Limit:
        found = self._best("ChargePointMaxProfile", 0, now, None, None)
        return found or Limit(None, None)

    def _best(
        self,
        purpose: str,
        connector_id: int,
        now: datetime,
        tx_id: TxId | None,
        tx_started: datetime | None,
    ) -> Limit | None:
        candidates = [
            p
            for p in self.profiles
            if p.purpose == purpose
            and p.connector_id == connector_id
            and (p.transaction_id is None or p.transaction_id == tx_id)
        ]
        for p in sorted(candidates, key=lambda p: -p.stack_level):
            value = p.value_at(now, tx_started)
            if value is not None:
                return value
        return None
