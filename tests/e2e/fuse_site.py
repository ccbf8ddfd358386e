"""The site of the fuse e2e suites (test_load_fuses, test_field_faults): our OCPP server,
the control loop and the simulator over real sockets on 127.0.0.1, judged by what the
simulated cars PHYSICALLY draw (the simulator's ``DrawLog``), never by the server's
bookkeeping.

Site (63 A main fuse)
 ├─ circuit A, 32 A: A1 3-phase (RST), A2 1-phase on S (grid L2)
 └─ circuit B, 20 A: B1 3-phase (STR), B2 1-phase on T (grid L3)

A1 and B2 speak OCPP 2.0.1, A2 and B1 1.6 (``FLEET_VERSIONS``; test_load_fuses runs its
scenarios on an all-1.6 fleet too).

``Site.scan`` checks, at the end of every physics step, every fuse on every phase: site
63 A, A 32 A, B 20 A (plus the simulated building load where a test adds one);
``Site.overload`` integrates what flowed above them in ampere-seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chargegrid.control.apply import ApplySettings, EvseKey
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.sim.car import Car
from chargegrid.sim.charger import ChargerSpec
from chargegrid.sim.draw_log import DrawSample
from chargegrid.sim.faults import Faults
from chargegrid.sim.fleet import Fleet, FleetConfig
from chargegrid.sim.state import OcppVersion
from chargegrid.store import models as m
from tests.e2e.conftest import Csms, eventually

SITE_A, A_A, B_A = 63.0, 32.0, 20.0
CHARGERS = {
    # ocpp id: (circuit, phases, rotation)
    "A1": ("A", 3, "RST"),
    "A2": ("A", 1, "S"),
    "B1": ("B", 3, "STR"),
    "B2": ("B", 1, "T"),
}
# Which chargers speak OCPP 2.0.1 (the rest 1.6): a mixed fleet by default, so every
# fuse scenario runs through both protocol adapters; a suite may switch it.
MIXED: dict[str, OcppVersion] = {"A1": "2.0.1", "B2": "2.0.1"}
FLEET_VERSIONS: dict[str, OcppVersion] = dict(MIXED)
TAG = "E2E-TAG"
TICK_S = 0.05  # real seconds between the simulator's physics steps
STEP_GAP_S = TICK_S / 2  # samples closer than this belong to one step
LOOP = LoopSettings(
    debounce_s=0.002,
    reconcile_s=0.5,
    unmanaged_hold_s=3.0,
    apply=ApplySettings(
        lease_s=4.0,
        renew_before_s=2.0,
        answer_timeout_s=1.0,
        retry_flagged_s=2.0,
        increase_holdoff_s=0.5,
        car_reaction_s=0.5,  # IEC 61851's 5 s at the simulator's speed of 10
    ),
)


Building = Callable[[], tuple[float, float, float]]
Totals = dict[str, list[float]]


@dataclass(frozen=True)
class Overload:
    """What flowed above the fuses: per ``node Lx``, ampere-seconds and the peak excess."""

    ampere_seconds: dict[str, float]
    peak_a: dict[str, float]
    first_t: float | None = None
    last_t: float | None = None

    @property
    def total(self) -> float:
        return sum(self.ampere_seconds.values())

    @property
    def span_s(self) -> float:
        """From the first physics step over a fuse to the last (0: none)."""
        if self.first_t is None or self.last_t is None:
            return 0.0
        return self.last_t - self.first_t

    def __str__(self) -> str:
        if not self.ampere_seconds:
            return "0 A·s"
        parts = [
            f"{where} {amps_s:.2f} A·s (peak +{self.peak_a[where]:.1f} A)"
            for where, amps_s in sorted(self.ampere_seconds.items())
        ]
        span = (self.last_t or 0.0) - (self.first_t or 0.0)
        return f"{self.total:.2f} A·s over {span:.2f} s: " + ", ".join(parts)


@dataclass
class Site:
    csms: Csms
    loop: ControlLoop
    fleet: Fleet
    site_id: uuid.UUID
    circuits: dict[str, uuid.UUID]
    charger_ids: dict[str, uuid.UUID]
    # Unmanaged building load on circuit B per grid phase (a test may set it).
    building_b: tuple[float, float, float] = (0.0, 0.0, 0.0)
    violations: list[str] = field(default_factory=list)

    def totals(self, latest: dict[tuple[str, int], DrawSample]) -> Totals:
        nodes = {"site": [0.0, 0.0, 0.0], "A": [0.0, 0.0, 0.0], "B": [0.0, 0.0, 0.0]}
        for (ocpp_id, _), s in latest.items():
            circuit = CHARGERS[ocpp_id][0]
            for i, amps in enumerate((s.l1, s.l2, s.l3)):
                nodes["site"][i] += amps
                nodes[circuit][i] += amps
        for i, amps in enumerate(self.building_b):
            nodes["site"][i] += amps
            nodes["B"][i] += amps
        return nodes

    def steps(self) -> Iterator[tuple[float, Totals]]:
        """Every node's load per phase at the end of every physics step.

        A step records its connectors one after the other within a millisecond; judging
        between two of them would mix new and old draws, so a step is judged whole.
        """
        latest: dict[tuple[str, int], DrawSample] = {}
        samples = list(self.fleet.draw_log.samples)
        for n, sample in enumerate(samples):
            latest[(sample.ocpp_id, sample.connector_id)] = sample
            if n + 1 < len(samples) and samples[n + 1].t - sample.t < STEP_GAP_S:
                continue
            yield sample.t, self.totals(latest)

    def scan(self, since: float = 0.0, site_limit: float = SITE_A) -> list[str]:
        """At the end of every physics step after ``since``: a fuse exceeded on a phase."""
        limits = _limits(site_limit)
        found: list[str] = []
        for t, totals in self.steps():
            if t < since:
                continue
            for node, per_phase in totals.items():
                for i, amps in enumerate(per_phase):
                    if amps > limits[node] + 1e-6:
                        found.append(f"t={t:.2f} {node} L{i + 1} {amps:.2f} A")
        return found

    def overload(self, since: float = 0.0, until: float = float("inf")) -> Overload:
        """Ampere-seconds above every fuse between ``since`` and ``until``: each step's
        excess counts until the next step."""
        limits = _limits(SITE_A)
        amps_s: dict[str, float] = {}
        peak: dict[str, float] = {}
        first = last = None
        steps = list(self.steps())
        for (t, totals), (t_next, _) in zip(steps, [*steps[1:], *steps[-1:]], strict=True):
            if t < since or t > until:
                continue
            for node, per_phase in totals.items():
                for i, amps in enumerate(per_phase):
                    excess = amps - limits[node]
                    if excess <= 1e-6:
                        continue
                    where = f"{node} L{i + 1}"
                    amps_s[where] = amps_s.get(where, 0.0) + excess * (t_next - t)
                    peak[where] = max(peak.get(where, 0.0), excess)
                    first = t if first is None else first
                    last = t
        return Overload(amps_s, peak, first, last)

    def now_total(self) -> Totals:
        latest = {(s.ocpp_id, s.connector_id): s for s in self.fleet.draw_log.samples}
        return self.totals(latest)

    def within_fuses(self) -> bool:
        limits = _limits(SITE_A)
        return all(
            amps <= limits[node] + 1e-6
            for node, per_phase in self.now_total().items()
            for amps in per_phase
        )

    async def set_available(self, amps: float) -> float:
        """What the site PATCH does: store the override, then say so on the bus."""
        async with self.csms.db.session() as s:
            site = await s.get(m.Site, self.site_id)
            assert site is not None
            site.available_current_l1 = site.available_current_l2 = amps
            site.available_current_l3 = amps
        at = time.monotonic()
        self.csms.bus.publish(
            "config.changed",
            {"kind": "site", "id": str(self.site_id), "site_id": str(self.site_id)},
        )
        return at

    def plug(self, ocpp_id: str, max_current: float = 32.0, id_tag: str | None = None) -> Car:
        car = Car(
            f"car-{ocpp_id}",
            phases=CHARGERS[ocpp_id][1],
            max_current=max_current,
            battery_wh=1e7,
            soc=10,
            stay_s=1e9,
            id_tag=id_tag or f"{TAG}-{ocpp_id}",  # one tag per car: a tag charges once at a time
        )
        self.fleet.charger(ocpp_id).plug_in(1, car)
        return car

    def plug_all(self, max_current: float = 32.0) -> None:
        for ocpp_id in CHARGERS:
            self.plug(ocpp_id, max_current)

    def drawing(self, ocpp_id: str) -> float:
        """What the car at ``ocpp_id`` draws now on its busiest grid phase."""
        s = self.fleet.draw_log.latest(ocpp_id, 1)
        return 0.0 if s is None else max(s.l1, s.l2, s.l3)

    def phase_draw(self, ocpp_id: str, phase: int) -> float:
        """What the car at ``ocpp_id`` draws now on grid phase ``phase`` (1..3)."""
        s = self.fleet.draw_log.latest(ocpp_id, 1)
        return 0.0 if s is None else (s.l1, s.l2, s.l3)[phase - 1]

    async def charging(self, ocpp_ids: list[str] | None = None) -> None:
        wanted = ocpp_ids or list(CHARGERS)

        async def drawing() -> bool:
            return all(self.drawing(o) > 5 for o in wanted)

        await eventually(drawing, timeout=20, what=f"{wanted} drawing current")

    def key(self, ocpp_id: str) -> EvseKey:
        return EvseKey(str(self.charger_ids[ocpp_id]), 1)

    def sessions(self) -> dict[str, dict[str, Any]]:
        """The ``/load`` view's sessions by charger (the loop's view of the site)."""
        view = self.loop.view(str(self.site_id)) or {"sessions": []}
        by_id = {str(v): k for k, v in self.charger_ids.items()}
        return {by_id[s["charger_id"]]: s for s in view["sessions"] if s["charger_id"] in by_id}

    async def run_on(self, seconds: float) -> float:
        """Let the loop, the chargers and the cars run on for ``seconds`` of samples."""
        until = time.monotonic() + seconds
        await eventually(
            lambda: later_samples(self, until), timeout=seconds + 10, what=f"{seconds} s more"
        )
        return until


def _limits(site_limit: float) -> dict[str, float]:
    return {"site": min(SITE_A, site_limit), "A": A_A, "B": B_A}


class LoopHolder:
    """The control loop, for an OCPP server built before it: a booted charger's first
    calls are its failsafe and live limits (``limits_first``), as ``chargegrid serve``
    wires it."""

    def __init__(self) -> None:
        self.loop: ControlLoop | None = None

    async def limits_first(self, charger_id: str) -> None:
        if self.loop is not None:
            await self.loop.first_limits(charger_id)


async def seed_site(
    csms: Csms, tags: tuple[str, ...] = (), **site_options: Any
) -> tuple[uuid.UUID, dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    site_id = uuid.uuid4()
    circuits = {"A": uuid.uuid4(), "B": uuid.uuid4()}
    chargers = {ocpp_id: uuid.uuid4() for ocpp_id in CHARGERS}
    async with csms.db.session() as s:
        s.add(m.Site(id=site_id, name="E2E", max_current=SITE_A, **site_options))
        await s.flush()
        s.add(m.Circuit(id=circuits["A"], site_id=site_id, name="A", max_current=A_A))
        s.add(m.Circuit(id=circuits["B"], site_id=site_id, name="B", max_current=B_A))
        await s.flush()
        for ocpp_id, (circuit, phases, rotation) in CHARGERS.items():
            s.add(
                m.Charger(
                    id=chargers[ocpp_id],
                    site_id=site_id,
                    circuit_id=circuits[circuit],
                    ocpp_id=ocpp_id,
                    max_charge_phases=phases,
                    meter_value_interval=2,
                )
            )
            await s.flush()
            evse = m.Evse(charger_id=chargers[ocpp_id], evse_number=1)
            s.add(evse)
            await s.flush()
            s.add(
                m.Connector(
                    evse_id=evse.id,
                    charger_id=chargers[ocpp_id],
                    connector_id=1,
                    power_type="AC_3_PHASE" if phases == 3 else "AC_1_PHASE",
                    phase_rotation=rotation,
                    max_amperage=32,
                )
            )
    for tag in (*(f"{TAG}-{ocpp_id}" for ocpp_id in CHARGERS), *tags):
        await csms.add_id_tag(tag)
    return site_id, circuits, chargers


def sim_specs() -> list[ChargerSpec]:
    return [
        ChargerSpec(
            ocpp_id,
            connectors=1,
            phases=phases,
            rotations=(rotation,),
            ocpp_version=FLEET_VERSIONS.get(ocpp_id, "1.6"),
        )
        for ocpp_id, (_, phases, rotation) in CHARGERS.items()
    ]


async def start_site(
    csms: Csms,
    faults: dict[str, Faults] | None = None,
    *,
    settings: LoopSettings = LOOP,
    holder: LoopHolder | None = None,
    fleet_tags: tuple[str, ...] = (),
    wait_for: tuple[str, ...] | None = None,
    **site_options: Any,
) -> Site:
    """Seed the site, start the loop and the fleet, and wait until every charger without
    a fault (or every one in ``wait_for``) has its failsafe. ``fleet_tags``: registered
    tags for the cars the fleet brings itself (fault ``start_before_profile``);
    ``site_options``: columns of the site row."""
    site_id, circuits, chargers = await seed_site(csms, fleet_tags, **site_options)
    loop = ControlLoop(csms.db.session, csms.bus, csms.central.gateway, settings)
    if holder is not None:
        holder.loop = loop
    await loop.start()
    config = FleetConfig(
        url=f"ws://127.0.0.1:{csms.port}/ocpp",
        speed=10.0,
        tick_s=TICK_S,
        mean_idle_s=1e9,
        id_tags=fleet_tags,
    )
    fleet = Fleet(config, specs=sim_specs())
    for ocpp_id, fault in (faults or {}).items():
        fleet.charger(ocpp_id).faults = fault
    await fleet.start()
    site = Site(csms, loop, fleet, site_id, circuits, chargers)
    waited = wait_for if wait_for is not None else [o for o in CHARGERS if o not in (faults or {})]

    async def failsafes_installed() -> bool:
        return all(loop.engine.committed(site.key(o)) is not None for o in waited)

    await eventually(failsafes_installed, timeout=20, what="every charger's failsafe")
    return site


async def stop_site(site: Site) -> None:
    await site.fleet.stop()
    await site.loop.stop()


async def later_samples(site: Site, moment: float) -> bool:
    samples = site.fleet.draw_log.samples
    return bool(samples) and samples[-1].t >= moment


async def value(flag: bool) -> bool:
    return flag
