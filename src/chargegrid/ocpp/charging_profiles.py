"""Typed charging profiles, so callers never assemble the JSON by hand (``to_ocpp`` is
1.6's form; ``ocpp.v201.commands.profile_201`` writes 2.0.1's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Purpose = Literal[
    "ChargePointMaxProfile", "ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"
]
Kind = Literal["Absolute", "Recurring", "Relative"]
RateUnit = Literal["A", "W"]


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_period: int  # seconds from the schedule's start
    limit: float  # A or W per the schedule's rate unit (per phase for A)
    number_phases: int | None = None

    def to_ocpp(self) -> dict[str, Any]:
        out: dict[str, Any] = {"startPeriod": self.start_period, "limit": round(self.limit, 1)}
        if self.number_phases is not None:
            out["numberPhases"] = self.number_phases
        return out


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: Purpose
    periods: tuple[SchedulePeriod, ...]
    kind: Kind = "Relative"
    rate_unit: RateUnit = "A"
    transaction_id: int | str | None = None  # 1.6: ours; 2.0.1: the station's
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    start_schedule: datetime | None = None
    duration: int | None = None
    recurrency: Literal["Daily", "Weekly"] | None = None
    min_charging_rate: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_ocpp(self) -> dict[str, Any]:
        schedule: dict[str, Any] = {
            "chargingRateUnit": self.rate_unit,
            "chargingSchedulePeriod": [p.to_ocpp() for p in self.periods],
        }
        if self.duration is not None:
            schedule["duration"] = self.duration
        if self.start_schedule is not None:
            schedule["startSchedule"] = _time(self.start_schedule)
        if self.min_charging_rate is not None:
            schedule["minChargingRate"] = self.min_charging_rate
        profile: dict[str, Any] = {
            "chargingProfileId": self.id,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": self.purpose,
            "chargingProfileKind": self.kind,
            "chargingSchedule": schedule,
        }
        if self.transaction_id is not None:
            profile["transactionId"] = self.transaction_id
        if self.recurrency is not None:
            profile["recurrencyKind"] = self.recurrency
        if self.valid_from is not None:
            profile["validFrom"] = _time(self.valid_from)
        if self.valid_to is not None:
            profile["validTo"] = _time(self.valid_to)
        profile.update(self.extra)
        return profile


def current_limit(
    profile_id: int,
    limit_a: float,
    *,
    purpose: Purpose = "TxDefaultProfile",
    stack_level: int = 1,
    number_phases: int | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    """A one-period profile holding ``limit_a`` per phase from now on: what the load
    manager sends. ``valid_to`` makes it a lease that lapses back to the failsafe."""
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind="Relative",
        periods=(SchedulePeriod(0, limit_a, number_phases),),
        valid_to=valid_to,
        transaction_id=transaction_id,
    )
