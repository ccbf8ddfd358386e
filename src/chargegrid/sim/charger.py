"""One simulated OCPP 1.6J charge point with its connectors and the cars on them.

It connects to any CSMS, boots, reports status, authorizes and runs transactions,
samples meter values, obeys charging profiles, and survives lost links: transaction
messages wait in an outbox and are replayed in order with their original timestamps
once it is connected again. Its parts:

* ``link.py``: connecting, booting, registration, heartbeats, going down on a reboot;
* ``transactions.py``: cars arriving and leaving, starts (refused or not) and stops;
* ``commands.py``: answers to the central system's calls;
* this module: the physics (what each car really draws under the profiles the charger
  really obeys, recorded in the ``DrawLog``) and the meter readings taken from it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.ocpp.connection import Payload
from chargegrid.sim.car import Car
from chargegrid.sim.commands import CentralSystemCalls
from chargegrid.sim.draw_log import DrawSample
from chargegrid.sim.metering import sampled_values
from chargegrid.sim.outbox import CALL_TIMEOUT, Outgoing
from chargegrid.sim.profiles import Limit
from chargegrid.sim.state import ChargerSpec, ConnectorState, SimClock, Transaction, ocpp_now

__all__ = [
    "CALL_TIMEOUT",
    "ChargerSpec",
    "ConnectorState",
    "Outgoing",
    "SimCharger",
    "SimClock",
    "Transaction",
    "ocpp_now",
]


class SimCharger(CentralSystemCalls):
    def step(self, dt: float) -> None:
        """Advance every connector ``dt`` simulated seconds; sample meters when due."""
        now_sim = self.clock.now()
        now = datetime.now(UTC)
        cap = self.profiles.charger_cap(now)
        sharing = sum(1 for c in self.connectors.values() if c.energized) if self.powered else 0
        for c in self.connectors.values():
            car = c.car
            if car is None:
                continue
            if self.powered and c.energized:
                self._supply(c, car, cap, sharing, now, now_sim, dt)
            else:
                self._contactor_open(c, car)
            if c.leave_at is not None and now_sim >= c.leave_at:
                self.leave(c.number)

    def _supply(
        self,
        c: ConnectorState,
        car: Car,
        cap: Limit,
        sharing: int,
        now: datetime,
        now_sim: float,
        dt: float,
    ) -> None:
        own = self.profiles.limit(
            c.number,
            now,
            c.tx_id,
            c.tx_started,
            ignore_tx_default=self.faults.ignore_tx_default_profile,
        )
        limits = [self.spec.max_current]
        if own.amps is not None:
            limits.append(own.amps)
        if cap.amps is not None:
            limits.append(cap.amps / sharing)  # the charger shares its cap
        c.limit = min(limits)
        if not c.operative:
            c.limit = 0.0
        c.phases_offered = min(self.spec.phases, own.phases or 3)
        # 2.0.1 phaseToUse: a 1-phase period on a 3-phase EVSE picks its conductor.
        one_phase = c.phases_offered == 1 and self.spec.phases == 3
        c.phase_to_use = own.phase_to_use if one_phase else None
        car.step(
            c.limit,
            c.phases_offered,
            dt,
            now_sim < c.ignore_until,
            reaction_s=self.faults.car_reaction_s,
        )
        conductors = car.conductors(c.phases_offered)
        c.register_wh += car.drawing * conductors * DEFAULT_NOMINAL_VOLTAGE * dt / 3600.0
        self._record(c, car, conductors)
        if car.drawing > 0:
            self._set_status(c, "Charging")
        elif car.full:
            self._set_status(c, "SuspendedEV")
        else:
            self._set_status(c, "SuspendedEVSE")
        interval = self._meter_interval()
        if interval > 0 and now_sim - c.last_meter >= interval:
            c.last_meter = now_sim
            self._meter_values(c)

    def _meter_interval(self) -> float:
        """Simulated seconds between meter readings during a transaction."""
        return float(self.config["MeterValueSampleInterval"])

    def _contactor_open(self, c: ConnectorState, car: Car) -> None:
        """No transaction (or no power): the car draws nothing, at once."""
        car.drawing = 0.0
        latest = self.draw_log.latest(self.spec.ocpp_id, c.number)
        if latest is not None and (latest.l1 or latest.l2 or latest.l3):
            self.draw_log.record(
                DrawSample(time.monotonic(), self.spec.ocpp_id, c.number, 0, 0, 0, c.limit)
            )

    def _record(self, c: ConnectorState, car: Car, conductors: int) -> None:
        grid = [0.0, 0.0, 0.0]
        for conductor in self._conductors_used(c, conductors):
            grid[c.grid.target(conductor).index] += car.drawing
        self.draw_log.record(
            DrawSample(
                time.monotonic(), self.spec.ocpp_id, c.number, grid[0], grid[1], grid[2], c.limit
            )
        )

    @staticmethod
    def _conductors_used(c: ConnectorState, conductors: int) -> list[int]:
        """The supply conductors the car draws on: the first ``conductors``, or the one
        a 1-phase period's phaseToUse names."""
        used = min(conductors, c.grid.phase_count)
        if used == 1 and c.phase_to_use is not None and c.phase_to_use <= c.grid.phase_count:
            return [c.phase_to_use]
        return list(range(1, used + 1))

    def _reading(self, c: ConnectorState, car: Car) -> list[dict[str, Any]]:
        """What the meter reads now (1.6 sampledValues; the measurands per fault)."""
        return sampled_values(
            self.faults.meter_report,
            amps=car.drawing,
            conductors=car.conductors(c.phases_offered),
            phases_wired=self.spec.phases,
            register_wh=c.register_wh,
            soc=car.soc,
            phase=c.phase_to_use,
        )

    def _meter_values(self, c: ConnectorState) -> None:
        car = c.car
        if car is None:
            return
        timestamp = ocpp_now()
        sampled = self._reading(c, car)
        tx = c.tx

        def build() -> Payload:
            payload: Payload = {
                "connectorId": c.number,
                "meterValue": [{"timestamp": timestamp, "sampledValue": sampled}],
            }
            if tx is not None and tx.id is not None:
                payload["transactionId"] = tx.id
            return payload

        self.enqueue(Outgoing("MeterValues", build))
