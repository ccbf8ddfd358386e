"""A fleet of simulated chargers and the cars that come and go.

``Fleet`` runs in any event loop: ``chargegrid simulate`` runs it alone, ``chargegrid
serve --demo`` runs it beside the server, tests and benchmarks drive it directly and
read each car's physical per-phase draw from ``fleet.draw_log``.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chargegrid.sim.car import Car, random_car
from chargegrid.sim.charger import ChargerSpec, SimCharger, SimClock
from chargegrid.sim.draw_log import DrawLog
from chargegrid.sim.faults import Faults
from chargegrid.sim.state import OcppVersion
from chargegrid.sim.v201.station import SimStation201

log = logging.getLogger(__name__)

THREE_PHASE_ROTATIONS = ("RST", "STR", "TRS")
ONE_PHASE_ROTATIONS = ("R", "S", "T")
# ``mixed``: even-indexed chargers (SIM-001, SIM-003, ...) speak 1.6, the others 2.0.1.
FleetOcpp = Literal["1.6", "2.0.1", "mixed"]


def ocpp_version(fleet_ocpp: FleetOcpp, index: int) -> OcppVersion:
    if fleet_ocpp == "mixed":
        return "1.6" if index % 2 == 0 else "2.0.1"
    return fleet_ocpp


@dataclass(frozen=True)
class PlannedSession:
    """One car visit from a CSV of sessions (or drawn at random)."""

    arrive_s: float
    car: Car
    ocpp_id: str | None = None
    connector_id: int | None = None


@dataclass(frozen=True)
class FleetConfig:
    url: str = "ws://127.0.0.1:9000/ocpp"
    chargers: int = 20
    connectors: int = 1
    prefix: str = "SIM-"
    seed: int = 1
    three_phase_share: float = 0.75  # the rest are 1-phase chargers
    speed: float = 1.0  # simulated seconds per real second
    tick_s: float = 1.0  # real seconds between physics steps
    mean_idle_s: float = 900.0  # simulated seconds a free connector waits for a car
    mean_stay_s: float = 3600.0
    sessions_csv: Path | None = None
    password: str | None = None
    # The tags the cars use (each must exist in the CSMS; ``--api`` registers them).
    # Empty: ``PREFIX`` + ``TAG-0001``..., two per connector, so that a tag is never
    # used by two cars at once and rests a while between cars.
    id_tags: tuple[str, ...] = ()
    faults: Faults = field(default_factory=Faults)
    ocpp: FleetOcpp = "1.6"

    def __post_init__(self) -> None:
        if not self.id_tags:
            count = max(4, 2 * self.chargers * self.connectors)
            tags = tuple(f"{self.prefix}TAG-{n:04d}" for n in range(1, count + 1))
            object.__setattr__(self, "id_tags", tags)


def charger_specs(config: FleetConfig) -> list[ChargerSpec]:
    """Deterministic per seed: 3-phase chargers cycle their rotation so that 1-phase
    cars land on different grid phases, as an electrician would wire them."""
    rng = random.Random(config.seed)
    specs = []
    for i in range(config.chargers):
        phases = 3 if rng.random() < config.three_phase_share else 1
        choices = THREE_PHASE_ROTATIONS if phases == 3 else ONE_PHASE_ROTATIONS
        rotations = tuple(
            choices[(i * config.connectors + n) % 3] for n in range(config.connectors)
        )
        specs.append(
            ChargerSpec(
                ocpp_id=f"{config.prefix}{i + 1:03d}",
                connectors=config.connectors,
                phases=phases,
                rotations=rotations,
                max_current=32.0,
                password=config.password,
                ocpp_version=ocpp_version(config.ocpp, i),
            )
        )
    return specs


def read_sessions_csv(path: Path) -> list[PlannedSession]:
    """Columns: arrive_s, stay_s, phases, max_current, battery_kwh, soc, target_soc,
    and optionally id_tag (else a free tag of the fleet's pool), ocpp_id and
    connector_id (else the first free connector)."""
    sessions = []
    with path.open(newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle), start=1):
            car = Car(
                name=f"csv-{n}",
                phases=int(row.get("phases") or 3),
                max_current=float(row.get("max_current") or 16),
                battery_wh=float(row.get("battery_kwh") or 60) * 1000.0,
                soc=float(row.get("soc") or 30),
                target_soc=float(row.get("target_soc") or 100),
                stay_s=float(row["stay_s"]),
                id_tag=row.get("id_tag") or "",  # empty: a free tag of the fleet's
            )
            sessions.append(
                PlannedSession(
                    arrive_s=float(row["arrive_s"]),
                    car=car,
                    ocpp_id=row.get("ocpp_id") or None,
                    connector_id=int(row["connector_id"]) if row.get("connector_id") else None,
                )
            )
    return sorted(sessions, key=lambda s: s.arrive_s)


class Fleet:
    def __init__(self, config: FleetConfig, specs: list[ChargerSpec] | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.clock = SimClock(config.speed)
        self.draw_log = DrawLog()
        self.chargers = {
            spec.ocpp_id: (SimStation201 if spec.ocpp_version == "2.0.1" else SimCharger)(
                spec,
                config.url,
                clock=self.clock,
                draw_log=self.draw_log,
                rng=random.Random(f"{config.seed}-{spec.ocpp_id}"),
                faults=config.faults,
            )
            for spec in (specs or charger_specs(config))
        }
        for charger in self.chargers.values():
            charger.new_car = self._new_car
        self._tags = list(config.id_tags)  # least recently used first
        self.planned = read_sessions_csv(config.sessions_csv) if config.sessions_csv else None
        self._next_arrival: dict[tuple[str, int], float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cars = 0
        self.arrivals = True  # False: no new cars (e.g. to let a test wind down)

    def charger(self, ocpp_id: str) -> SimCharger:
        return self.chargers[ocpp_id]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for charger in self.chargers.values():
            self._tasks.append(loop.create_task(charger.run(), name=f"sim-{charger.spec.ocpp_id}"))
        self._tasks.append(loop.create_task(self._physics(), name="sim-physics"))

    async def stop(self) -> None:
        for charger in self.chargers.values():
            await charger.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def _physics(self) -> None:
        dt = self.config.tick_s * self.config.speed
        while True:
            await asyncio.sleep(self.config.tick_s)
            try:
                self.step(dt)
            except Exception:
                log.exception("simulation step failed")

    def step(self, dt: float) -> None:
        self._arrivals()
        for charger in self.chargers.values():
            if charger.boots:  # and on through its reboots: the contactors open
                charger.step(dt)

    def _arrivals(self) -> None:
        if not self.arrivals:
            return
        now = self.clock.now()
        if self.planned is not None:
            while self.planned and self.planned[0].arrive_s <= now:
                self._place(self.planned.pop(0))
            return
        for charger in self.chargers.values():
            if not charger.booted.is_set():
                continue
            for number, c in charger.connectors.items():
                key = (charger.spec.ocpp_id, number)
                if c.car is not None:
                    self._next_arrival.pop(key, None)
                    continue
                due = self._next_arrival.setdefault(
                    key, now + self.rng.expovariate(1.0 / self.config.mean_idle_s)
                )
                if due <= now and c.operative:
                    del self._next_arrival[key]
                    charger.plug_in(number, self._new_car())

    def _new_car(self) -> Car:
        self._cars += 1
        return random_car(self.rng, f"car-{self._cars}", self._free_tag(), self.config.mean_stay_s)

    def _free_tag(self) -> str:
        """The least recently used tag that no car here holds: a CSMS refuses a second
        start with a tag that is charging (ConcurrentTx)."""
        held = {
            c.car.id_tag
            for charger in self.chargers.values()
            for c in charger.connectors.values()
            if c.car is not None
        }
        tag = next((t for t in self._tags if t not in held), self._tags[0])
        self._tags.remove(tag)
        self._tags.append(tag)
        return tag

    def _place(self, planned: PlannedSession) -> None:
        candidates = (
            [self.chargers[planned.ocpp_id]] if planned.ocpp_id in self.chargers else []
        ) or [c for c in self.chargers.values() if c.booted.is_set()]
        for charger in candidates:
            number = planned.connector_id or charger.free_connector()
            if number is not None and charger.connectors[number].car is None:
                if not planned.car.id_tag:
                    planned.car.id_tag = self._free_tag()
                charger.plug_in(number, planned.car)
                return
        log.info("no free connector for %s; the car drives on", planned.car.name)
