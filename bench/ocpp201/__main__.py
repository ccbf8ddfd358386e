"""One run, one server core: chargegrid's durable 2.0.1 TransactionEvent and 1.6
MeterValues CALL -> CALLRESULT rates, and the ``ocpp`` package's 2.0.1 server as baseline.

    .venv/bin/python -m bench.ocpp201 [--seconds 10] [--warmup 3] [--clients 200] [--profile]

Each case is ``kind@protocol`` (kinds and load as in ``bench.ocpp``: the server pinned to
CPU 0, the load generators on the others): ``ours@2.0.1`` (TransactionEvent Started,
then Updated with the six readings, seqNo counting up, Ended and a new transaction every
50), ``ours@1.6`` (today's MeterValues), ``baseline@2.0.1`` (``ocpp.v201.ChargePoint``,
``@on("TransactionEvent")``, no storage). For chargegrid's servers the CPU each server
thread used in the window is read from /proc; ``--profile`` adds a run of ``ours@2.0.1``
with cProfile on the event-loop thread (its rate is not counted). Results go to stdout
and to bench/results/ocpp/ocpp201-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import pstats
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.ocpp.__main__ import RESULTS, throughput

DEFAULT_CASES = "ours@2.0.1,ours@1.6,baseline@2.0.1,ours-nostore@2.0.1,baseline@1.6"
CACHE = Path("bench/.cache")
TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) each thread of ``pid`` has used, by native id."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[task.name] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


class Window:
    """Per-thread CPU over the measured window; cProfile in the server if ``profile``."""

    def __init__(self, profile: Path | None = None) -> None:
        self.profile = profile
        self.threads: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, pid: int) -> Iterator[None]:
        before = thread_cpu(pid)
        if self.profile is not None:
            os.kill(pid, signal.SIGUSR1)
        try:
            yield
        finally:
            if self.profile is not None:
                os.kill(pid, signal.SIGUSR2)
            after = thread_cpu(pid)
            self.threads = {tid: round(cpu - before.get(tid, 0.0), 2) for tid, cpu in after.items()}
            if self.profile is not None:
                for _ in range(100):  # the server writes the stats on its own time
                    if self.profile.exists():
                        break
                    time.sleep(0.05)


def named(threads: dict[str, float], names: dict[str, str], pid: int) -> dict[str, float]:
    """Per-thread CPU under the threads' names (the event loop is the main thread)."""
    out: dict[str, float] = {}
    for tid, cpu in sorted(threads.items(), key=lambda item: -item[1]):
        name = "event-loop (main)" if tid == str(pid) else names.get(tid, f"thread {tid}")
        out[name] = round(out.get(name, 0.0) + cpu, 2)
    return out


def case(spec: str, args: argparse.Namespace, profile: Path | None = None) -> dict[str, Any]:
    kind, _, protocol = spec.partition("@")
    protocol = protocol or "1.6"
    server_args = ["--protocol", protocol] if kind == "baseline" else []
    if kind == "ours":
        server_args += ["--db", str(CACHE / f"ocpp201-bench-{os.getpid()}.db")]
    if profile is not None:
        profile.unlink(missing_ok=True)
        server_args += ["--profile", str(profile)]
    window = Window(profile)
    pid_seen: list[int] = []

    def during(pid: int) -> contextlib.AbstractContextManager[None]:
        pid_seen.append(pid)
        return window(pid)

    result = throughput(kind, args, protocol, server_args, during)
    result["case"] = spec
    names = result.pop("thread_names", {})
    if kind != "baseline" and pid_seen:
        # The pid is taskset's until it execs the server: the same process.
        result["server_thread_cpu_s_in_window"] = named(window.threads, names, pid_seen[0])
    return result


def top_functions(profile: Path, calls: int, n: int = 30) -> list[dict[str, Any]]:
    """The profiled functions by own time, in µs per CALL -> CALLRESULT."""
    stats = pstats.Stats(str(profile), stream=io.StringIO())
    rows = []
    for (file, line, fn), (_cc, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({fn})",
                "file": file,
                "calls_per_call": round(ncalls / max(calls, 1), 2),
                "own_us_per_call": round(1e6 * tottime / max(calls, 1), 2),
                "cumulative_us_per_call": round(1e6 * cumtime / max(calls, 1), 2),
            }
        )
    rows.sort(key=lambda r: -float(r["own_us_per_call"]))
    return rows[:n]


def by_area(profile: Path, calls: int) -> dict[str, float]:
    """Own time per call grouped by where the code lives (package or stdlib module)."""
    stats = pstats.Stats(str(profile), stream=io.StringIO())
    areas: dict[str, float] = {}
    for (file, _line, fn), (_cc, _n, tottime, _cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "chargegrid/" in file:
            area = "chargegrid/" + file.split("chargegrid/", 1)[1]
        elif "site-packages/" in file:
            area = file.split("site-packages/", 1)[1].split("/", 1)[0]
        elif file == "~":
            area = "builtin " + fn.split(" of ")[0].strip("<>{}")[:60]
        else:
            area = "stdlib " + Path(file).name
        areas[area] = areas.get(area, 0.0) + tottime
    total = sorted(areas.items(), key=lambda item: -item[1])
    return {area: round(1e6 * t / max(calls, 1), 2) for area, t in total[:40]}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | CALL→CALLRESULT /s (wall) | per server CPU-second | p50 ms | p99 ms "
        "| server CPU in window | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['calls_per_s']:,} | {r['calls_per_server_cpu_s'] or 0:,} "
            f"| {r['p50_ms']} | {r['p99_ms']} | {r['server_cpu_s_in_window']} s "
            f"| {r['errors']} |"
        )
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each of ours against the baseline of its protocol: wall and per CPU-second."""
    base = {r["protocol"]: r for r in rows if r["kind"] == "baseline"}
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        b = base.get(r["protocol"])
        if r["kind"] == "baseline" or b is None or not b["calls_per_s"]:
            continue
        out[r["case"]] = {
            "wall": round(r["calls_per_s"] / b["calls_per_s"], 2),
            "per_server_cpu_s": round(
                (r["calls_per_server_cpu_s"] or 0) / (b["calls_per_server_cpu_s"] or 1), 2
            ),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="kind@protocol, comma separated")
    parser.add_argument("--profile", action="store_true", help="then cProfile ours@2.0.1")
    parser.add_argument("--server-loop", choices=("asyncio", "uvloop"), default=None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m bench.ocpp201", *sys.argv[1:]]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "websockets": version("websockets"),
            "load_avg_at_start": os.getloadavg(),
        },
    }
    try:
        rows = [case(spec, args) for spec in args.cases.split(",")]
        results["throughput"] = rows
        results["ratio_vs_baseline"] = ratios(rows)
        if args.profile:
            path = CACHE / f"ocpp201-profile-{os.getpid()}.prof"
            profiled = case("ours@2.0.1", args, profile=path)
            calls = round(profiled["calls_per_s"] * args.seconds)
            results["profile"] = {
                "case": "ours@2.0.1 under cProfile (event-loop thread only)",
                "calls_per_s_profiled": profiled["calls_per_s"],
                "server_thread_cpu_s_in_window": profiled.get("server_thread_cpu_s_in_window"),
                "own_us_per_call_by_area": by_area(path, calls),
                "top_functions": top_functions(path, calls),
            }
            path.unlink(missing_ok=True)
    finally:
        for leftover in ("", "-wal", "-shm"):
            Path(f"{CACHE}/ocpp201-bench-{os.getpid()}.db{leftover}").unlink(missing_ok=True)
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"ocpp201-{time.strftime('%Y%m%dT%H%M%S')}.json"
    (args.out / name).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(table(results["throughput"]))
    print("ratio vs baseline:", json.dumps(results["ratio_vs_baseline"]))


if __name__ == "__main__":
    main()
