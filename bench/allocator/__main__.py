"""``python -m bench.allocator``: allocator speed against HiGHS, and energy delivered on
real ACN-Data sessions in acnportal's simulator beside its baselines.

Prints the tables and writes ``bench/results/allocator.md`` (numbers, the command, the
machine). ``--quick`` runs fewer repetitions and one site-month (a smoke run, not for
the record); ``--speed-only`` / ``--replay-only`` run one half (the record then holds
only that half).
The replay runs its simulations in ``--jobs`` processes (default: every core).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from . import replay
from .speed import SpeedRow, Timing, measure

RESULTS = Path(__file__).resolve().parent.parent / "results" / "allocator.md"
# Replay results as they complete (one JSON line each), so a cut run can resume.
REPLAY_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "allocator-replay.jsonl"
REPLAY_SITES = ("caltech", "jpl")
REPLAY_DAYS = ("2019-07-01", "2019-08-31")
REPLAY_CAPACITIES_KW = (5.0, 10.0, 20.0, 50.0, 100.0, 150.0)
ALGORITHMS = ("chargegrid", *replay.baselines())


def _load() -> str:
    load = os.getloadavg()
    return f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average at start "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def _wall(timing: Timing) -> str:
    return f"{timing.p50_ms:.2f} / {timing.p99_ms:.2f}"


def _cpu(timing: Timing) -> str:
    return f"{timing.cpu_p50_ms:.2f} / {timing.cpu_p99_ms:.2f}"


def speed_table(rows: list[SpeedRow]) -> list[str]:
    lines = [
        "p50 / p99 in ms, wall clock (CPU time of the process in the second table: what "
        "the call itself cost, without the time other processes held the core). Ours "
        "**warm** = the site's structure was seen before and its meter reading changed "
        "(every decision after the first), **cold** = first call after a configuration "
        "change (topology compiled). Both get a fresh copy of the problem (new objects). "
        "HiGHS **solve** = `Highs()` + `passModel` + `run` on a prebuilt LP; **build + "
        "solve** = also turning the problem into the LP's arrays (given our phases). "
        "The `gc.freeze()` rows freeze what was alive before the timed calls (as a "
        "server can after start-up), so CPython's full collections, which otherwise "
        "land inside about one call in ten, no longer walk that heap.",
        "",
    ]
    for title, cell in (("wall clock", _wall), ("CPU time", _cpu)):
        lines += [
            f"| instance ({title}) | sessions | ours warm | ours cold | HiGHS solve "
            "| HiGHS build + solve | samples (ours warm / cold / HiGHS) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r.label} | {r.sessions} | {cell(r.warm)} | {cell(r.cold)} "
                f"| {cell(r.highs_solve)} | {cell(r.highs_build_solve)} "
                f"| {r.warm.samples} / {r.cold.samples} / {r.highs_solve.samples} |"
            )
        lines.append("")
    lines += [
        "| instance | HiGHS solve / ours warm (p50, wall) | HiGHS build + solve / ours warm "
        "| total A ours | total A LP | gap |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.ratio:.2f}x "
            f"| {r.highs_build_solve.p50_ms / r.warm.p50_ms:.2f}x "
            f"| {r.ours_total_a:.1f} | {r.lp_total_a:.1f} | {r.gap_percent:.4f} % |"
        )
    return lines


def _replay_job(job: tuple[str, str, str, str, float]) -> replay.Result:
    site, first, last, algorithm, capacity = job
    rows = replay.load_rows(site, first, last)
    model = replay.SingleConstraint()
    scheduler = (
        replay.Chargegrid(model, capacity)
        if algorithm == "chargegrid"
        else replay.baselines()[algorithm]()
    )
    return replay.simulate(algorithm, scheduler, model, rows, capacity)


def _job_key(job: tuple[str, str, str, str, float]) -> str:
    return "|".join(map(str, job))


def replay_tables(
    sites: tuple[str, ...],
    days: tuple[str, str],
    capacities: tuple[float, ...],
    jobs: int,
    resume: bool,
    run: bool = True,
) -> list[str]:
    """Every (site, capacity, algorithm) simulation, ``jobs`` at a time. Each result is
    appended to ``REPLAY_CACHE`` as it completes; ``resume`` keeps those already there
    (an interrupted run goes on where it stopped). Cells not run read "-"."""
    work = [
        (site, *days, algorithm, capacity)
        for site in sites
        for capacity in capacities
        for algorithm in ALGORITHMS
    ]
    cached: dict[str, replay.Result] = {}
    if resume and REPLAY_CACHE.exists():
        for line in REPLAY_CACHE.read_text().splitlines():
            key, value = json.loads(line)
            cached[key] = replay.Result(**value)
    elif REPLAY_CACHE.exists():
        REPLAY_CACHE.unlink()
    # The comparison that matters first (ours, LLF, EDF) at every capacity and site, the
    # middle capacities first; round robin and FCFS after: a run cut short still
    # answers the question.
    middle = sorted(capacities, key=lambda c: abs(math.log(c / 20.0)))
    todo = sorted(
        (job for job in work if run and _job_key(job) not in cached),
        key=lambda job: (
            ALGORITHMS.index(job[3]) > 2,
            middle.index(job[4]),
            sites.index(job[0]),
            ALGORITHMS.index(job[3]),
        ),
    )
    REPLAY_CACHE.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_replay_job, job): job for job in todo}
        for future in as_completed(futures):
            result = future.result()
            key = _job_key(futures[future])
            cached[key] = result
            with REPLAY_CACHE.open("a") as out:
                out.write(json.dumps([key, asdict(result)]) + "\n")
            print(key, f"{100 * result.delivered:.2f} %", file=sys.stderr, flush=True)
    results = {
        (job[0], job[4], job[3]): cached[_job_key(job)] for job in work if _job_key(job) in cached
    }
    lines: list[str] = []
    summary = [
        "| site | capacity kW | chargegrid | best of LLF and EDF | difference "
        "| chargegrid violations | chargegrid stop/restarts per session |",
        "|---|---|---|---|---|---|---|",
    ]
    for site in sites:
        rows = replay.load_rows(site, *days)
        lines += [
            f"### {site}: {len(rows)} sessions arriving {days[0]} .. {days[1]} at "
            f"{len({r.station_id for r in rows})} stations",
            "",
            "| capacity kW | algorithm | energy delivered / requested | violations "
            "| stop/restarts per session | call p50 / p99 ms | simulation s |",
            "|---|---|---|---|---|---|---|",
        ]
        for capacity in capacities:
            for algorithm in ALGORITHMS:
                r = results.get((site, capacity, algorithm))
                if r is None:
                    lines.append(f"| {capacity:g} | {algorithm} | - | - | - | - | - |")
                    continue
                lines.append(
                    f"| {capacity:g} | {algorithm} | {100 * r.delivered:.2f} % "
                    f"| {r.violations} | {r.restarts_per_session:.2f} "
                    f"| {r.call_p50_ms:.2f} / {r.call_p99_ms:.2f} | {r.seconds:.0f} |"
                )
            ours = results.get((site, capacity, "chargegrid"))
            rivals = [
                results.get((site, capacity, "least laxity first")),
                results.get((site, capacity, "earliest deadline first")),
            ]
            if ours is None or None in rivals:
                continue
            best = max(r.delivered for r in rivals if r is not None)
            summary.append(
                f"| {site} | {capacity:g} | {100 * ours.delivered:.2f} % | {100 * best:.2f} % "
                f"| {100 * (ours.delivered - best):+.2f} pp | {ours.violations} "
                f"| {ours.restarts_per_session:.2f} |"
            )
        lines.append("")
    return [*summary, "", *lines]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.allocator")
    parser.add_argument("--quick", action="store_true", help="few repetitions, no record")
    parser.add_argument(
        "--speed-only", action="store_true", help="skip the ACN replay (prints, no record)"
    )
    parser.add_argument(
        "--replay-only", action="store_true", help="skip the speed part (prints, no record)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--resume", action="store_true", help="keep the replay results of an earlier run"
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="run nothing: the replay tables from the results kept so far",
    )
    args = parser.parse_args()
    command = " ".join(["python -m bench.allocator", *sys.argv[1:]])
    where = machine()
    started = time.time()
    out: list[str] = []
    if not args.replay_only:
        out += speed_part(args.quick)
    if args.speed_only:
        print("\n".join(out))
        if not args.quick:
            record(command, where, started, "\n".join(out))
        return
    sites, days, capacities = REPLAY_SITES, REPLAY_DAYS, REPLAY_CAPACITIES_KW
    if args.quick:
        sites, days, capacities = ("caltech",), ("2019-07-01", "2019-07-14"), (10.0, 50.0)
    out += [
        "## Energy delivered: ACN-Data replayed in acnportal's simulator",
        "",
        "Single constraint (the site's limit on the sum of all station currents, 208 V, "
        "stations 32 A continuous), 5-minute periods, acnportal's ideal battery, "
        "departures known (acnportal's default), every algorithm on the same events. "
        "Violations: schedules acnportal's own feasibility check refused. Stop/restart: a "
        "session's pilot back above 0 after being 0 once it had charged. Call time: the "
        "scheduler's `schedule` (ours: building the problem + `allocate`).",
        "",
        *replay_tables(
            sites,
            days,
            capacities,
            args.jobs,
            args.resume or args.tables_only,
            not args.tables_only,
        ),
    ]
    report = "\n".join(out)
    print(report)
    if args.quick:
        return
    record(command, where, started, report)


def speed_part(quick: bool) -> list[str]:
    # (warm, cold, HiGHS) repetitions per seed at 1,000 sessions; a tenth at 10,000.
    warm, cold, highs = (5, 2, 3) if quick else (200, 20, 60)
    big = (max(1, warm // 10), max(1, cold // 10), max(1, highs // 10))
    rows = [
        measure("site -> 10 circuits -> 100 chargers each", 10, 100, 5, warm, cold, highs),
        measure("same, site not binding (circuits decide)", 10, 100, 5, warm, cold, highs, 12.0),
        measure("site -> 100 circuits -> 100 chargers each", 100, 100, 2, *big),
        measure("site -> 10 -> 100, after gc.freeze()", 10, 100, 5, warm, cold, highs, freeze=True),
        measure("site -> 100 -> 100, after gc.freeze()", 100, 100, 2, *big, freeze=True),
    ]
    return [
        "## Speed: `allocate` vs HiGHS (LP relaxation of the same instance)",
        "",
        *speed_table(rows),
        "",
    ]


SECTIONS = ("## Speed", "## Energy delivered")


def record(command: str, where: str, started: float, report: str) -> None:
    """Write the sections of ``report`` into ``RESULTS``, each with how it was run; a
    section this run did not produce is kept from the file as it was."""
    run = (
        f"Command: `.venv/bin/{command}` (from the repository root). Machine: {where}; "
        f"load average at the end {_load()}. Run took {time.time() - started:.0f} s, "
        f"finished {time.strftime('%Y-%m-%d %H:%M:%S')}. The 2 cores are shared with "
        "other engineers' runs, so times are pessimistic and p99 is noisy. Timed with "
        "the garbage collector on, as in the server.\n"
    )
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    parts = []
    for title in SECTIONS:
        new = _section(report, title)
        if new:
            head, _, body = new.partition("\n")
            parts.append(f"{head}\n\n{run}{body}")
        elif _section(old, title):
            parts.append(_section(old, title))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Allocator benchmark\n\n" + "\n".join(p.rstrip() + "\n" for p in parts),
        encoding="utf-8",
    )
    print(f"\nwritten to {RESULTS}", file=sys.stderr)


def _section(text: str, title: str) -> str:
    """The part of ``text`` from the ``title`` line to the next section title."""
    start = text.find(title)
    if start < 0:
        return ""
    ends = [e for t in SECTIONS if (e := text.find(t, start + len(title))) > 0]
    return text[start : min(ends, default=len(text))]


if __name__ == "__main__":
    main()
