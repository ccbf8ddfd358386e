"""SetChargingProfile payloads for the live limit and the failsafe default.

Two layers on each charger, so that a charger that loses us falls back safely:

- the **failsafe** is a ``TxDefaultProfile`` at ``stackLevel`` 0 with no end. It is what
  a car draws whenever nothing else applies: a new transaction before we have spoken,
  or after the live lease lapsed because the link is down. We do not use
  ``ChargePointMaxProfile`` for it: that caps the charger *always*, also while online,
  so live limits above the failsafe would be clipped.
- the **live** limit is a ``TxProfile`` for the running transaction (or a
  ``TxDefaultProfile`` on the EVSE for chargers that ignore TxProfile) at a higher stack
  level. It carries ``validTo`` (a lease, renewed while the link is up), so an
  unreachable charger drops back to the failsafe by itself.
- an **idle** EVSE of a connected charger holds a leased live ``TxDefaultProfile`` of
  0 A: a car that plugs in waits for its share instead of starting at the failsafe on
  top of everybody else's live limits; its first limit is then an increase, sent only
  after the reductions that make room for it were confirmed.

``Relative`` schedules start with the transaction (or at once), which keeps a charger
with a wrong clock from waiting for a ``startSchedule`` in its future.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE

ACTION = "SetChargingProfile"
# One profile id per EVSE and purpose, so each send replaces the previous one.
LIVE_PROFILE_BASE = 1000  # live TxDefaultProfile (an idle EVSE's 0 A, or no TxProfile)
TX_PROFILE_BASE = 2000  # live TxProfile: its own id, so it never replaces the default
FAILSAFE_PROFILE_BASE = 500
LIVE_STACK_LEVEL = 1
FAILSAFE_STACK_LEVEL = 0


class Purpose(StrEnum):
    TX = "TxProfile"
    TX_DEFAULT = "TxDefaultProfile"


@dataclass(frozen=True, slots=True)
class ChargerCaps:
    """What a charger told us about its smart charging (GetConfiguration / boot)."""

    ocpp_version: str = "1.6"
    max_stack_level: int = 8  # ChargeProfileMaxStackLevel
    rate_unit: str = "A"  # "A" or "W" (ChargingScheduleAllowedChargingRateUnit)
    tx_profile_supported: bool = True  # False: the charger only honours TxDefaultProfile
    voltage: float = DEFAULT_NOMINAL_VOLTAGE  # line-to-neutral, to convert A -> W
    # 2.0.1 ACPhaseSwitchingSupported: a 1-phase limit may name its phase (phaseToUse).
    phase_switching: bool = False

    @property
    def live_stack_level(self) -> int:
        return max(0, min(LIVE_STACK_LEVEL, self.max_stack_level))


@dataclass(frozen=True, slots=True)
class Limit:
    """A per-phase current over a number of phases (OCPP ``limit`` + ``numberPhases``)."""

    amps: float
    phases: int

    def covers(self, other: Limit) -> bool:
        """True if this limit lets a car draw at least what ``other`` lets it draw, on
        every phase it could use."""
        return self.amps >= other.amps and self.phases >= other.phases


def _rate(amps: float, phases: int, caps: ChargerCaps) -> tuple[str, float]:
    if caps.rate_unit == "W":
        return "W", round(amps * phases * caps.voltage, 1)
    # OCPP allows one decimal; rounding down never lets a car draw more than planned.
    return "A", int(amps * 10) / 10


@functools.lru_cache(maxsize=4)  # a wave's profiles share one validTo
def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def set_profile_payload(
    *,
    caps: ChargerCaps,
    evse_number: int,
    limit: Limit,
    purpose: Purpose,
    profile_id: int,
    stack_level: int,
    transaction_id: int | str | None = None,
    valid_to: datetime | None = None,
    phase_to_use: int | None = None,
) -> dict[str, Any]:
    """The SetChargingProfile request for ``caps.ocpp_version`` (1.6 or 2.0.1)."""
    unit, value = _rate(limit.amps, limit.phases, caps)
    period = {"startPeriod": 0, "limit": value, "numberPhases": limit.phases}
    profile: dict[str, Any] = {
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose.value,
        "chargingProfileKind": "Relative",
    }
    if valid_to is not None:
        profile["validTo"] = _iso(valid_to)
    if caps.ocpp_version.startswith("2"):
        if phase_to_use is not None and limit.phases == 1 and caps.phase_switching:
            period["phaseToUse"] = phase_to_use
        profile["id"] = profile_id
        if purpose is Purpose.TX and transaction_id is not None:
            profile["transactionId"] = str(transaction_id)
        profile["chargingSchedule"] = [
            {"id": profile_id, "chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
        ]
        return {"evseId": evse_number, "chargingProfile": profile}
    profile["chargingProfileId"] = profile_id
    if purpose is Purpose.TX and transaction_id is not None:
        profile["transactionId"] = int(transaction_id)
    profile["chargingSchedule"] = {"chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
    return {"connectorId": evse_number, "csChargingProfiles": profile}


def accepted(answer: object) -> bool:
    """A SetChargingProfile answer says ``Accepted`` (anything else: the old limit stands)."""
    return isinstance(answer, Mapping) and answer.get("status") == "Accepted"
