"""A 2.0.1 station's smart charging: SetChargingProfile, ClearChargingProfile,
GetChargingProfiles (then ReportChargingProfiles) and GetCompositeSchedule, on the
SAME profile stack the 1.6 charger uses (sim/profiles.py) and so the same physics.

EVSE 0 is the station (ChargingStationMaxProfile, a TxDefaultProfile for every EVSE),
EVSE n the station's connector n. ``phaseToUse`` on a 1-phase period is accepted only
where SmartChargingCtrlr.ACPhaseSwitchingSupported is true (K01.FR.19/20) and makes a
1-phase draw use that conductor of the EVSE.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.ocpp.connection import Handler, Payload, Reply
from chargegrid.sim.outbox import CALL_TIMEOUT
from chargegrid.sim.v201 import wire
from chargegrid.sim.v201.transactions import Transactions201
from chargegrid.sim.v201.variables import MAX_PROFILES, PERIODS_PER_SCHEDULE


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SmartCharging201(Transactions201):
    def _smart_charging_table(self) -> dict[str, Handler]:
        return {
            "SetChargingProfile": self._set_charging_profile,
            "ClearChargingProfile": self._clear_charging_profile,
            "GetChargingProfiles": self._get_charging_profiles,
            "GetCompositeSchedule": self._get_composite_schedule,
        }

    def phase_switching(self, evse: int) -> bool:
        numbers = list(self.connectors) if evse == 0 else [evse]
        return all(
            self.variable("SmartChargingCtrlr", "ACPhaseSwitchingSupported", evse=n) == "true"
            for n in numbers
        )

    def _profile_problem(self, evse: int, profile: dict[str, Any]) -> str | None:
        """Why a SetChargingProfile is refused (a reasonCode), or None."""
        if self.variable("SmartChargingCtrlr", "Enabled") != "true":
            return "NotEnabled"
        if evse != 0 and evse not in self.connectors:
            return "UnknownEVSE"
        if profile["chargingProfilePurpose"] not in wire.PURPOSES:
            return "InvalidProfile"  # ChargingStationExternalConstraints (K01.FR.22)
        if profile["chargingProfilePurpose"] == "TxProfile" and "transactionId" not in profile:
            return "TxNotFound"
        schedules = profile["chargingSchedule"]
        periods = [p for s in schedules for p in s["chargingSchedulePeriod"]]
        if len(periods) > PERIODS_PER_SCHEDULE * len(schedules):
            return "InvalidSchedule"
        for period in periods:
            if "phaseToUse" in period and (
                period.get("numberPhases") != 1 or not self.phase_switching(evse)
            ):
                return "UnsupportedParam"
        replaces = any(p.id == profile["id"] for p in self.profiles.profiles)
        if len(self.profiles.profiles) >= MAX_PROFILES and not replaces:
            return "NoCapacity"
        return None

    async def _set_charging_profile(self, p: Payload) -> Payload:
        if self.faults.refuse_profiles and self.rng.random() < self.faults.refuse_profiles:
            return {"status": "Rejected"}
        profile, evse = p["chargingProfile"], p["evseId"]
        late = self.faults.live_profile_delay_after_reconnect_s
        if late and self.connected_count > 1 and profile["stackLevel"] > 0:
            await asyncio.sleep(late)
        problem = self._profile_problem(evse, profile)
        if problem is not None:
            return {"status": "Rejected", "statusInfo": {"reasonCode": problem}}
        c = self.connectors.get(evse)
        tx_id = c.tx_id if c is not None else None
        status = self.profiles.install(
            evse, wire.stack_profile(profile), tx_id, datetime.now(UTC), source=profile
        )
        return {"status": status}

    async def _clear_charging_profile(self, p: Payload) -> Payload:
        criteria = p.get("chargingProfileCriteria") or {}
        purpose = criteria.get("chargingProfilePurpose")
        if purpose is not None and purpose not in wire.PURPOSES:
            return {"status": "Unknown"}
        status = self.profiles.clear(
            p.get("chargingProfileId"),
            criteria.get("evseId"),
            wire.PURPOSES.get(purpose) if purpose else None,
            criteria.get("stackLevel"),
        )
        return {"status": status}

    async def _get_charging_profiles(self, p: Payload) -> Payload | Reply:
        wanted = p["chargingProfile"]
        evse = p.get("evseId")
        purpose = wanted.get("chargingProfilePurpose")
        ids = wanted.get("chargingProfileId")
        sources = wanted.get("chargingLimitSource")
        found: dict[int, list[dict[str, Any]]] = {}
        for installed in self.profiles.profiles:
            source = installed.source
            if source is None or (sources and "CSO" not in sources):
                continue
            if evse is not None and installed.connector_id != evse:
                continue
            if purpose is not None and source["chargingProfilePurpose"] != purpose:
                continue
            if "stackLevel" in wanted and installed.stack_level != wanted["stackLevel"]:
                continue
            if ids and installed.id not in ids:
                continue
            found.setdefault(installed.connector_id, []).append(source)
        if not found:
            return {"status": "NoProfiles"}
        connection = self.connection
        request_id = p["requestId"]

        async def report() -> None:
            if connection is None:
                return
            evses = sorted(found)
            for n, evse_id in enumerate(evses):
                payload = {
                    "requestId": request_id,
                    "chargingLimitSource": "CSO",
                    "chargingProfile": found[evse_id],
                    "tbc": n < len(evses) - 1,
                    "evseId": evse_id,
                }
                await connection.call("ReportChargingProfiles", payload, CALL_TIMEOUT)

        return Reply({"status": "Accepted"}, report)

    async def _get_composite_schedule(self, p: Payload) -> Payload:
        evse = p["evseId"]
        if evse != 0 and evse not in self.connectors:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEVSE"}}
        unit = p.get("chargingRateUnit", "A")
        now = datetime.now(UTC)
        until = now + timedelta(seconds=p["duration"])
        c = self.connectors.get(evse)
        tx_id = c.tx_id if c is not None else None
        tx_started = c.tx_started if c is not None else None
        instants = {now}
        for installed in self.profiles.profiles:
            instants.update(installed.changes(now, until, tx_started))
        periods: list[dict[str, Any]] = []
        for t in sorted(instants):
            amps, phases = self._composite_at(evse, t, tx_id, tx_started)
            limit = amps
            if unit == "W":
                limit = amps * DEFAULT_NOMINAL_VOLTAGE * (phases or self.spec.phases)
            period: dict[str, Any] = {
                "startPeriod": int((t - now).total_seconds()),
                "limit": round(limit, 1),
            }
            if phases is not None:
                period["numberPhases"] = phases
            if periods and {**periods[-1], "startPeriod": 0} == {**period, "startPeriod": 0}:
                continue
            periods.append(period)
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": evse,
                "duration": p["duration"],
                "scheduleStart": _iso(now),
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods,
            },
        }

    def _composite_at(
        self, evse: int, t: datetime, tx_id: Any, tx_started: datetime | None
    ) -> tuple[float, int | None]:
        """The lowest of the station's hardware, its max profile and (for an EVSE) its
        own TxProfile / TxDefaultProfile at ``t``: amps per phase, numberPhases."""
        limits = [self.spec.max_current]
        cap = self.profiles.charger_cap(t)
        if cap.amps is not None:
            limits.append(cap.amps)
        phases = cap.phases
        if evse != 0:
            # What the station says it obeys (fault ignore_tx_default_profile: it does
            # not, but it does not say so either).
            own = self.profiles.limit(evse, t, tx_id, tx_started)
            if own.amps is not None:
                limits.append(own.amps)
                phases = own.phases
        return min(limits), phases
