"""``python -m bench.allocator``: allocator speed against HiGHS and quality on ACN data.

Prints a table and writes ``bench/results/allocator.md`` (numbers, the command, the
machine). ``--quick`` runs fewer repetitions (a smoke run, not for the record).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from . import acn
from .speed import SpeedRow, Timing, measure

RESULTS = Path(__file__).resolve().parent.parent / "results" / "allocator.md"
ACN_DAYS = ("2019-07-01", "2019-07-31")
ACN_LIMITS_A = (12.0, 18.0, 24.0)
ACN_STEP_S = 300.0


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


def quality_table(limit: float, outcomes: list[acn.Outcome]) -> list[str]:
    lines = [
        f"Per-phase site limit {limit:g} A ({limit * 3 * 230 / 1000:.1f} kW):",
        "",
        "| policy | energy delivered / wanted | fully served | Jain index | "
        "stop/restarts per session |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {100 * o.delivered_share:.1f} % | {100 * o.fully_served:.1f} % "
            f"| {o.jain:.3f} | {o.toggles_per_session:.2f} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.allocator")
    parser.add_argument("--quick", action="store_true", help="few repetitions, no record")
    parser.add_argument(
        "--speed-only", action="store_true", help="skip the ACN replay (prints, no record)"
    )
    args = parser.parse_args()
    command = "python -m bench.allocator" + (" --quick" if args.quick else "")
    where = machine()
    started = time.time()
    # (warm, cold, HiGHS) repetitions per seed at 1,000 sessions; a tenth at 10,000.
    warm, cold, highs = (5, 2, 3) if args.quick else (200, 20, 60)
    big = (max(1, warm // 10), max(1, cold // 10), max(1, highs // 10))
    rows = [
        measure("site -> 10 circuits -> 100 chargers each", 10, 100, 5, warm, cold, highs),
        measure("same, site not binding (circuits decide)", 10, 100, 5, warm, cold, highs, 12.0),
        measure("site -> 100 circuits -> 100 chargers each", 100, 100, 2, *big),
        measure("site -> 10 -> 100, after gc.freeze()", 10, 100, 5, warm, cold, highs, freeze=True),
        measure("site -> 100 -> 100, after gc.freeze()", 100, 100, 2, *big, freeze=True),
    ]
    out = ["## Speed: `allocate` vs HiGHS (LP relaxation of the same instance)", ""]
    out += speed_table(rows)
    out.append("")
    if args.speed_only:
        print("\n".join(out))
        return
    sessions = acn.load_sessions(*ACN_DAYS)
    out += [
        "## Quality: Caltech ACN-Data sessions replayed",
        "",
        f"{len(sessions)} sessions arriving {ACN_DAYS[0]} .. {ACN_DAYS[1]} at "
        f"{len({s.station for s in sessions})} stations, time step {ACN_STEP_S:g} s.",
        "",
    ]
    for limit in ACN_LIMITS_A:
        out += quality_table(limit, acn.run(*ACN_DAYS, limit, ACN_STEP_S))
    report = "\n".join(out)
    print(report)
    if args.quick:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Allocator benchmark\n\n"
        f"Command: `.venv/bin/{command}` (from the repository root)\n\n"
        f"Machine: {where}; load average at the end {_load()}. The 2 cores were shared "
        "with other engineers' test runs while this ran, so times are pessimistic and "
        "p99 is noisy. Timed with the garbage collector on, as in the server.\n\n"
        f"Run took {time.time() - started:.0f} s, finished "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}.\n\n" + report + "\n",
        encoding="utf-8",
    )
    print(f"\nwritten to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
