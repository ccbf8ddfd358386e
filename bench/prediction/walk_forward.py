"""Walk-forward evaluation of the departure/energy predictor on ACN-Data sessions: each
session predicted at its arrival from the sessions completed before it (see
``python -m bench.prediction``)."""

from __future__ import annotations

import heapq
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.prediction.acn_history import AcnSession

from chargegrid.domain.dwell_prediction import PastSession, Prediction, predict, predict_for

WARM_UP = timedelta(weeks=4)
SITE_SESSIONS = 2000  # store/session_history.py
TAG_SESSIONS = 200
MIN_SAMPLES = 3
HOUR = 3600.0
CONFIDENCE_BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.01))


@dataclass
class Errors:
    dwell_h: list[float] = field(default_factory=list)
    energy_kwh: list[float] = field(default_factory=list)

    def add(self, s: AcnSession, dwell_s: float, energy_wh: float) -> None:
        self.dwell_h.append(abs(dwell_s - s.dwell_s) / HOUR)
        self.energy_kwh.append(abs(energy_wh - s.energy_wh) / 1000.0)

    def row(self, name: str, of: int) -> str:
        n = len(self.dwell_h)
        if n == 0:
            return f"| {name} | 0 | - | - | - | - | - |"
        within = sum(e <= 1.0 for e in self.dwell_h) / n
        return (
            f"| {name} | {n} ({100 * n / of:.0f} %) | {statistics.fmean(self.dwell_h):.2f} | "
            f"{statistics.median(self.dwell_h):.2f} | {100 * within:.0f} % | "
            f"{statistics.fmean(self.energy_kwh):.2f} | {statistics.median(self.energy_kwh):.2f} |"
        )


@dataclass
class SiteResult:
    site: str
    sessions: int
    tests: int
    claimed: int
    by_source: dict[str, Errors]
    on_claimed: dict[str, Errors]
    by_band: dict[tuple[float, float], Errors]
    scope_count: dict[str, int]
    predict_us: list[float]


def _naive(history: Sequence[PastSession]) -> tuple[float, float] | None:
    if not history:
        return None
    return (
        statistics.median(h.dwell_s for h in history),
        statistics.median(h.energy_wh for h in history),
    )


def _station(history: Sequence[PastSession], arrived: datetime) -> Prediction | None:
    p = predict(history, arrived)
    if p is None or p.samples < MIN_SAMPLES or p.basis == "any":
        return None
    return p


def evaluate(site: str, sessions: list[AcnSession], limit: int | None) -> SiteResult:
    start = sessions[0].arrival + WARM_UP
    done: deque[PastSession] = deque(maxlen=SITE_SESSIONS)
    per_station: dict[str, deque[PastSession]] = defaultdict(lambda: deque(maxlen=TAG_SESSIONS))
    pending: list[tuple[datetime, int]] = []  # (departure, index): not completed yet
    by_source: dict[str, Errors] = defaultdict(Errors)
    on_claimed: dict[str, Errors] = defaultdict(Errors)
    by_band: dict[tuple[float, float], Errors] = defaultdict(Errors)
    scopes: dict[str, int] = defaultdict(int)
    timings: list[float] = []
    tests = claimed = 0
    for i, s in enumerate(sessions):
        while pending and pending[0][0] <= s.arrival:
            _, j = heapq.heappop(pending)
            done.append(sessions[j].record())
            per_station[sessions[j].station].append(sessions[j].record())
        heapq.heappush(pending, (s.departure, i))
        if s.arrival < start or (limit is not None and tests >= limit):
            continue
        tests += 1
        site_history, own = list(done), list(per_station[s.station])
        guesses: dict[str, tuple[float, float]] = {}
        naive = _naive(site_history)
        if naive is not None:
            guesses["naive"] = naive
        p_site = predict(site_history, s.arrival)
        if p_site is not None:
            guesses["site"] = (p_site.dwell_s, p_site.energy_wh)
        p_own = _station(own, s.arrival)
        if p_own is not None:
            guesses["station (id tag stand-in)"] = (p_own.dwell_s, p_own.energy_wh)
        t0 = time.perf_counter()
        p = predict_for(own, site_history, s.arrival)
        timings.append((time.perf_counter() - t0) * 1e6)
        if p is not None:
            guesses["chargegrid (station, else site)"] = (p.dwell_s, p.energy_wh)
            scopes[p.scope or "?"] += 1
            for band in CONFIDENCE_BANDS:
                if band[0] <= p.confidence < band[1]:
                    by_band[band].add(s, p.dwell_s, p.energy_wh)
        for name, (dwell, energy) in guesses.items():
            by_source[name].add(s, dwell, energy)
        if s.claimed:
            claimed += 1
            stated = (s.stated_departure - s.arrival).total_seconds()
            guesses["driver said (claimed only)"] = (stated, s.stated_energy_wh)
            for name, (dwell, energy) in guesses.items():
                on_claimed[name].add(s, dwell, energy)
    return SiteResult(
        site, len(sessions), tests, claimed, by_source, on_claimed, by_band, scopes, timings
    )
