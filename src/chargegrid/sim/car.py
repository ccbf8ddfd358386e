"""An electric car on an AC charger: what it wants to draw and how fast it follows.

IEC 61851: a car draws at most the offered current, nothing below 6 A, follows a
change within a few seconds (here a ramp), and tapers as its battery fills.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from chargegrid.domain.units import DEFAULT_MIN_CHARGE_CURRENT, DEFAULT_NOMINAL_VOLTAGE

RAMP_UP_A_PER_S = 4.0  # cars ease in
RAMP_DOWN_A_PER_S = 15.0  # and drop quickly when told to
TAPER_FROM_SOC = 80.0


@dataclass
class Car:
    name: str
    phases: int  # 1 or 3 on-board charger phases (many cars are 1-phase)
    max_current: float  # A per phase
    battery_wh: float
    soc: float  # %
    target_soc: float = 100.0
    stay_s: float = 3600.0  # simulated seconds before it leaves
    id_tag: str = "SIMTAG"
    drawing: float = 0.0  # A per phase right now
    energy_wh: float = 0.0
    lowered_for_s: float = 0.0  # simulated s it has been offered less than it draws

    def wanted(self) -> float:
        """Current it would take with no limit (tapering near full)."""
        if self.soc >= self.target_soc:
            return 0.0
        if self.soc <= TAPER_FROM_SOC:
            return self.max_current
        share = (100.0 - self.soc) / (100.0 - TAPER_FROM_SOC)
        return max(DEFAULT_MIN_CHARGE_CURRENT, self.max_current * share)

    def step(
        self,
        offered: float | None,
        conductors: int,
        dt: float,
        ignore_limit: bool,
        reaction_s: float = 0.0,
    ) -> None:
        """Advance ``dt`` simulated seconds under an offered limit (None: no limit); a
        lower limit is followed only after ``reaction_s`` (IEC 61851: up to 5 s)."""
        limit = self.max_current if ignore_limit or offered is None else offered
        target = min(limit, self.wanted())
        if target < DEFAULT_MIN_CHARGE_CURRENT:
            target = 0.0
        if target >= self.drawing:
            self.lowered_for_s = 0.0
            self.drawing = min(target, self.drawing + RAMP_UP_A_PER_S * dt)
        else:
            self.lowered_for_s += dt
            # A full battery slows the car by itself; a lower limit after its reaction.
            by_itself = offered is None or target == self.wanted()
            if by_itself or self.lowered_for_s >= reaction_s:
                self.drawing = max(target, self.drawing - RAMP_DOWN_A_PER_S * dt)
        self._account(conductors, dt)

    def _account(self, conductors: int, dt: float) -> None:
        watts = self.drawing * self.conductors(conductors) * DEFAULT_NOMINAL_VOLTAGE
        wh = watts * dt / 3600.0
        self.energy_wh += wh
        self.soc = min(100.0, self.soc + 100.0 * wh / self.battery_wh)

    def conductors(self, offered: int) -> int:
        """Phases it actually uses: its own, at most what the charger offers."""
        return max(1, min(self.phases, offered))

    @property
    def full(self) -> bool:
        return self.soc >= self.target_soc


def random_car(rng: random.Random, name: str, id_tag: str, mean_stay_s: float) -> Car:
    """A car drawn from a plausible European mix: 40 % 1-phase, 16 or 32 A."""
    phases = 1 if rng.random() < 0.4 else 3
    max_current = rng.choice([16.0, 16.0, 32.0])
    battery = rng.choice([40_000.0, 58_000.0, 77_000.0, 100_000.0])
    soc = rng.uniform(10.0, 70.0)
    return Car(
        name=name,
        phases=phases,
        max_current=max_current,
        battery_wh=battery,
        soc=soc,
        target_soc=rng.choice([80.0, 90.0, 100.0]),
        stay_s=max(300.0, rng.expovariate(1.0 / mean_stay_s)),
        id_tag=id_tag,
    )
