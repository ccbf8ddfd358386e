"""``python -m bench.history``: what the load history costs (issue 14).

``cost``     CPU on the path events take, with and without the history: the bus carries
             the load views the control loop publishes (one per round) and the readings
             the OCPP server publishes (one per meter value); with the history on, its
             subscription takes each, and its writer turns the latest into rows once per
             (simulated) second and INSERTs them. Process CPU time (``time.process_time``:
             the event loop and SQLite's thread) per event, rounds and meter values
             measured apart; and the publisher's own extra time per event (the part a
             round or a MeterValues handler waits for: the bus handing the event to one
             more queue).
``storage``  a day of a site at full tilt (every charger charging all day, a meter value
             every ``--meter-interval`` s each, staggered, and a site meter changing
             every second): the recorder and the job run on a simulated clock (flush each
             second, job each minute), then the bytes each resolution takes per charger
             per day (SQLite ``dbstat``; PostgreSQL ``pg_total_relation_size`` after
             ``VACUUM FULL``), and what a charger costs in steady state (a day at full
             resolution, 30 days of minutes, 395 days of quarter-hours, the defaults).

Results: stdout and ``bench/results/history.md`` (with the command and the commit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url

from chargegrid import events as ev
from chargegrid.bus.memory import EventBus
from chargegrid.services.history_job import HistoryJob
from chargegrid.services.history_recorder import TOPICS, HistoryRecorder
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.db import Database
from chargegrid.store.history_store import SqlHistoryStore
from chargegrid.store.history_tables import history_samples
from chargegrid.store.migrate import upgrade

DAY = 86_400
RESULTS = Path(__file__).resolve().parent.parent / "results" / "history.md"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Fleet:
    """A site: ``chargers`` in circuits of ten, each with one session charging."""

    chargers: int
    seed: int = 1

    def __post_init__(self) -> None:
        self.site = str(uuid.uuid4())
        self.circuits = [str(uuid.uuid4()) for _ in range((self.chargers + 9) // 10)]
        self.sessions = [str(uuid.uuid4()) for _ in range(self.chargers)]
        self.drawn = [16.0] * self.chargers
        self.limits = [16.0] * self.chargers
        self.site_meter = 40.0
        self.random = random.Random(self.seed)

    def reading(self, n: int) -> dict[str, Any]:
        """A charger's meter value (``session.updated`` as the OCPP server publishes it)."""
        self.drawn[n] = round(max(0.0, self.limits[n] - self.random.uniform(0.0, 0.6)), 2)
        return {
            "session_id": self.sessions[n],
            "charger_id": str(uuid.uuid4()),
            "ocpp_id": f"CP{n}",
            "connector_id": 1,
            "transaction_id": n,
            "timestamp": "2026-12-01T00:00:00+00:00",
            "current": {"l1": self.drawn[n], "l2": self.drawn[n], "l3": self.drawn[n]},
            "power_w": round(self.drawn[n] * 3 * 230, 0),
            "energy_wh": 1000.0,
            "soc": None,
            "power": {"l1": None, "l2": None, "l3": None},
            "voltage": {"l1": 230.0, "l2": 230.0, "l3": 230.0},
            "current_unphased": None,
            "energy_register_wh": 1000.0,
        }

    def rebalance(self) -> None:
        for n in range(self.chargers):
            self.limits[n] = float(self.random.choice((10, 13, 16)))

    def view(self) -> dict[str, Any]:
        """The live load view the control loop publishes (docs/load-api.md)."""
        self.site_meter = round(40.0 + self.random.uniform(-5.0, 5.0), 2)

        def phases(limit: float, allocated: float, measured: float | None) -> dict[str, Any]:
            return {
                p: {
                    "limit": limit,
                    "allocated": allocated,
                    "measured": measured,
                    "unmanaged": 0.0,
                    "headroom": limit - allocated,
                }
                for p in ("l1", "l2", "l3")
            }

        total = sum(self.limits)
        nodes = [
            {
                "id": self.site,
                "kind": "site",
                "name": "Site",
                "parent_id": None,
                "phases": phases(400.0, total, total + self.site_meter),
            }
        ]
        for c, circuit in enumerate(self.circuits):
            allocated = sum(self.limits[c * 10 : c * 10 + 10])
            nodes.append(
                {
                    "id": circuit,
                    "kind": "circuit",
                    "name": f"C{c}",
                    "parent_id": self.site,
                    "phases": phases(250.0, allocated, None),
                }
            )
        sessions = [
            {
                "session_id": self.sessions[n],
                "charger_id": f"charger-{n}",
                "evse_number": 1,
                "limit": self.limits[n],
                "phases": 3,
                "grid_phases": ["l1", "l2", "l3"],
                "measured": {"l1": self.drawn[n], "l2": self.drawn[n], "l3": self.drawn[n]},
                "measured_source": "current",
                "reason": "fair_share",
            }
            for n in range(self.chargers)
        ]
        return {
            "site_id": self.site,
            "computed_at": "2026-12-01T00:00:00.000Z",
            "nodes": nodes,
            "sessions": sessions,
        }


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


async def fresh_sqlite(directory: Path, name: str) -> Database:
    db = Database(f"sqlite+aiosqlite:///{directory / name}")
    await upgrade(db.engine)
    return db


async def fresh_postgres(url: str) -> tuple[Database, str]:
    parsed = make_url(url)
    name = f"cg_bench_history_{uuid.uuid4().hex[:8]}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    db = Database(parsed.set(database=name).render_as_string(hide_password=False))
    await upgrade(db.engine)
    return db, admin


async def drop_postgres(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- cost -------------------------------------------------------------------------------


async def cost_run(
    db: Database, fleet: Fleet, seconds: int, kind: str, history: bool, interval: int
) -> dict[str, float]:
    """``seconds`` simulated seconds of ``kind`` events ("round": a view per meter value
    the loop acts on; "meter": the readings alone); CPU per event."""
    bus = EventBus()
    # The subscribers a server always has (the control loop, /metrics) drain their queues
    # too; one stands for them in both runs, so only the history differs.
    others = bus.subscribe("*", maxsize=100_000)
    clock = Clock(1_800_000_000.0)
    settings = HistorySettings()
    recorder = HistoryRecorder(SqlHistoryStore(db.engine), settings, clock)
    subscription = bus.subscribe(TOPICS, maxsize=100_000) if history else None
    consumer = asyncio.create_task(recorder.consume(subscription)) if subscription else None
    per_second = max(1, fleet.chargers // interval)
    events = 0
    flushes: list[float] = []
    started = time.process_time()
    for second in range(seconds):
        clock.now += 1
        if second % 300 == 0:
            fleet.rebalance()
        for i in range(per_second):
            n = (second * per_second + i) % fleet.chargers
            reading = fleet.reading(n)
            if kind == "meter":
                bus.publish(ev.SESSION_UPDATED, reading)
            else:
                bus.publish(ev.SITE_LOAD_CHANGED, fleet.view())
            events += 1
        await asyncio.sleep(0)  # the subscribers take what was published
        while others.get_nowait() is not None:
            pass
        if history:
            before = time.process_time()
            await recorder.flush()
            flushes.append(time.process_time() - before)
    elapsed = time.process_time() - started
    if consumer is not None:
        consumer.cancel()
    # The view itself is built by the loop with or without history: subtract building it.
    return {
        "cpu_s": elapsed,
        "events": events,
        "rows": recorder.rows_written,
        "flush_p50_ms": 1000 * statistics.median(flushes) if flushes else 0.0,
        "flush_max_ms": 1000 * max(flushes) if flushes else 0.0,
    }


def publish_cost(fleet: Fleet, history: bool, repeat: int = 100_000) -> float:
    """The publisher's own CPU per event (µs): what a round or a MeterValues handler
    spends in ``bus.publish``, with one more subscriber when the history is on."""
    bus = EventBus()
    subs = [bus.subscribe("*", maxsize=repeat + 1)]
    if history:
        subs.append(bus.subscribe(TOPICS, maxsize=repeat + 1))
    payload = fleet.reading(0)
    started = time.process_time()
    for _ in range(repeat):
        bus.publish(ev.SESSION_UPDATED, payload)
    return (time.process_time() - started) / repeat * 1e6


async def cost(directory: Path, chargers: int, seconds: int, interval: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("round", "meter"):
        runs = {}
        for history in (False, True):
            db = await fresh_sqlite(directory, f"cost-{kind}-{history}.db")
            try:
                fleet = Fleet(chargers)
                runs[history] = await cost_run(db, fleet, seconds, kind, history, interval)
            finally:
                await db.dispose()
        off, on = runs[False], runs[True]
        out[kind] = {
            "events": on["events"],
            "cpu_per_event_us_without": 1e6 * off["cpu_s"] / off["events"],
            "cpu_per_event_us_with": 1e6 * on["cpu_s"] / on["events"],
            "extra_cpu_per_event_us": 1e6 * (on["cpu_s"] - off["cpu_s"]) / on["events"],
            "extra_cpu_ms_per_second": 1e3 * (on["cpu_s"] - off["cpu_s"]) / seconds,
            "extra_cpu_per_row_us": 1e6 * (on["cpu_s"] - off["cpu_s"]) / on["rows"]
            if on["rows"]
            else None,
            "rows_written": on["rows"],
            "flush_p50_ms": on["flush_p50_ms"],
            "flush_max_ms": on["flush_max_ms"],
        }
    fleet = Fleet(chargers)
    # Interleaved and the least of seven: the machine is shared, noise only adds.
    pairs = [(publish_cost(fleet, False), publish_cost(fleet, True)) for _ in range(7)]
    out["publish_us_without"] = min(without for without, _ in pairs)
    out["publish_us_with"] = min(with_ for _, with_ in pairs)
    return out


# -- storage ----------------------------------------------------------------------------


async def simulate_day(db: Database, chargers: int, hours: float, interval: int) -> dict[str, Any]:
    start = 1_800_000_000 - 1_800_000_000 % 900
    clock = Clock(start)
    settings = HistorySettings()
    store = SqlHistoryStore(db.engine)
    recorder = HistoryRecorder(store, settings, clock)
    job = HistoryJob(store, settings, clock)
    fleet = Fleet(chargers)
    seconds = int(hours * 3600)
    wall = time.perf_counter()
    watch = Stalls()
    ticker = asyncio.create_task(watch.tick())
    job_ms: list[float] = []
    warmup_ms = 0.0
    for second in range(seconds):
        clock.now = start + second
        if second % 300 == 0:
            fleet.rebalance()
        for n in range(chargers):
            if (second + n) % interval == 0:  # staggered meter values
                recorder.offer(ev.SESSION_UPDATED, fleet.reading(n))
        recorder.offer(ev.SITE_LOAD_CHANGED, fleet.view())
        await recorder.flush()
        if second % 60 == 0:
            began = time.perf_counter()
            # The first run is the warm-up (statements compiled, asyncpg's type lookups):
            # timed on its own, not in the percentiles or the stalls.
            watch.watching = second > 0
            await job.run_once()
            watch.watching = False
            if second == 0:
                warmup_ms = 1000 * (time.perf_counter() - began)
            else:
                job_ms.append(1000 * (time.perf_counter() - began))
    ticker.cancel()
    clock.now = start + seconds + settings.lag_s + 900
    await job.run_once()  # the last buckets
    return {
        "simulated_s": seconds,
        "rows_written": recorder.rows_written,
        "wall_s": time.perf_counter() - wall,
        "series": 1 + len(fleet.circuits) + chargers,
        "job_warmup_ms": warmup_ms,
        "job_p50_ms": statistics.median(job_ms),
        "job_max_ms": max(job_ms),
        "job_longest_stall_ms": 1000 * watch.longest,
        "job_longest_stall_cpu_ms": 1000 * watch.longest_cpu,
    }


class Stalls:
    """The longest the event loop went without running this task while the job ran:
    what a round or an OCPP message would have waited for. ``longest`` is wall time
    (on a shared machine it includes the process not being scheduled at all);
    ``longest_cpu`` the event-loop thread's own CPU time in that gap (the job's work)."""

    def __init__(self) -> None:
        self.watching = False
        self.longest = 0.0
        self.longest_cpu = 0.0

    async def tick(self) -> None:
        while True:
            before, before_cpu = time.perf_counter(), time.thread_time()
            was = self.watching
            await asyncio.sleep(0)
            if was and self.watching:
                self.longest = max(self.longest, time.perf_counter() - before)
                self.longest_cpu = max(self.longest_cpu, time.thread_time() - before_cpu)


async def sqlite_bytes(db: Database) -> int:
    async with db.engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%history%'")
        )
    return int(value or 0)


async def postgres_bytes(db: Database) -> int:
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM FULL history_samples"))
        await conn.execute(text("VACUUM FULL history_series"))
        value = await conn.scalar(
            text(
                "SELECT pg_total_relation_size('history_samples')"
                " + pg_total_relation_size('history_series')"
            )
        )
    return int(value or 0)


async def count_rows(db: Database) -> dict[int, int]:
    return await SqlHistoryStore(db.engine).count()


async def storage(
    db: Database, backend: str, chargers: int, hours: float, interval: int
) -> dict[str, Any]:
    run = await simulate_day(db, chargers, hours, interval)
    measure = sqlite_bytes if backend == "sqlite" else postgres_bytes

    async def vacuum() -> None:
        if backend == "sqlite":
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM"))

    rows = await count_rows(db)
    await vacuum()
    total = await measure(db)
    async with db.engine.begin() as conn:
        await conn.execute(delete(history_samples).where(history_samples.c.resolution == 1))
    await vacuum()
    downsampled = await measure(db)
    async with db.engine.begin() as conn:
        await conn.execute(delete(history_samples).where(history_samples.c.resolution == 60))
    await vacuum()
    quarters = await measure(db)
    async with db.engine.begin() as conn:
        await conn.execute(delete(history_samples))
    await vacuum()
    empty = await measure(db)
    days = hours / 24
    per = chargers * days
    raw_day = (total - downsampled) / per
    minute_day = (downsampled - quarters) / per
    quarter_day = (quarters - empty) / per
    return {
        **run,
        "rows": rows,
        "bytes_per_charger_day": {
            "full_resolution": raw_day,
            "1_min": minute_day,
            "15_min": quarter_day,
        },
        "steady_state_bytes_per_charger": raw_day + 30 * minute_day + 395 * quarter_day,
        "empty_tables_bytes": empty,
    }


def report(args: argparse.Namespace, results: dict[str, Any], command: str) -> str:
    c = results["cost"]
    lines = [
        "# Load history benchmark (`bench/history`)",
        "",
        f"Command: `{command}`",
        "",
        f"Commit: {results['commit']}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average at start "
        f"{' '.join(f'{x:.2f}' for x in results['load'])} (shared with other work).",
        "",
        "## (a) CPU on the event path, with and without the history",
        "",
        f"One site, {args.chargers} chargers in circuits of ten, every one charging, a meter "
        f"value every {args.interval} s each; {args.cost_seconds} simulated seconds per run, "
        "SQLite. `round`: one load view per meter value (the loop's metered case: "
        "every reading re-plans); `meter`: the readings alone. CPU is the process's "
        "(event loop and SQLite thread), the recorder's flush and INSERT included.",
        "",
        "| events | count | CPU/event without µs | with µs | extra µs | extra ms per second "
        "| rows written | extra µs per row | flush p50 ms | flush max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("round", "meter"):
        k = c[kind]
        per_row = "-" if k["extra_cpu_per_row_us"] is None else f"{k['extra_cpu_per_row_us']:.0f}"
        lines.append(
            f"| {kind} | {k['events']} | {k['cpu_per_event_us_without']:.1f} | "
            f"{k['cpu_per_event_us_with']:.1f} | {k['extra_cpu_per_event_us']:.1f} | "
            f"{k['extra_cpu_ms_per_second']:.2f} | {k['rows_written']} | "
            f"{per_row} | {k['flush_p50_ms']:.2f} | {k['flush_max_ms']:.2f} |"
        )
    lines += [
        "",
        f"The publisher's own CPU per event (`bus.publish`, what a round or a MeterValues "
        f"handler waits for): {c['publish_us_without']:.2f} µs without the history, "
        f"{c['publish_us_with']:.2f} µs with it (its subscription is one more queue). "
        "Everything else runs in the recorder's tasks: a round never waits for the database.",
        "",
        "## (b) Storage per charger per day",
        "",
        f"{args.hours} simulated hours, {args.chargers} chargers all charging all the time (the "
        f"worst case), a meter value every {args.interval} s each, a site meter changing every "
        "second, limits rebalanced every 5 minutes; recorder flushing every second and the "
        "job every minute on a simulated clock. Bytes are the history tables' pages "
        "(tables and indexes) per resolution, divided by chargers x days.",
        "",
        "| backend | rows written | full resolution B/charger/day | 1 min | 15 min "
        "| steady state per charger (1 d + 30 d + 395 d) |",
        "|---|---|---|---|---|---|",
    ]
    for backend, s in results["storage"].items():
        b = s["bytes_per_charger_day"]
        lines.append(
            f"| {backend} | {s['rows_written']} | {b['full_resolution']:,.0f} | "
            f"{b['1_min']:,.0f} | {b['15_min']:,.0f} | "
            f"{s['steady_state_bytes_per_charger'] / 1e6:.2f} MB |"
        )
    lines += [""]
    for backend, s in results["storage"].items():
        lines.append(
            f"{backend}: rows per resolution at the end {s['rows']}, {s['series']} series, "
            f"simulated in {s['wall_s']:.0f} s. The job each minute (after its first run, "
            f"{s['job_warmup_ms']:.0f} ms): p50 {s['job_p50_ms']:.1f} ms, "
            f"max {s['job_max_ms']:.1f} ms; the longest the event loop waited for it "
            f"{s['job_longest_stall_ms']:.1f} ms wall, of which "
            f"{s['job_longest_stall_cpu_ms']:.1f} ms the loop thread's own CPU (the rest: "
            "the process not scheduled on the shared machine)."
        )
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"commit": commit(), "load": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        directory = Path(tmp)
        results["cost"] = await cost(directory, args.chargers, args.cost_seconds, args.interval)
        print("cost", results["cost"], flush=True)
        results["storage"] = {}
        db = await fresh_sqlite(directory, "storage.db")
        try:
            results["storage"]["sqlite"] = await storage(
                db, "sqlite", args.chargers, args.hours, args.interval
            )
        finally:
            await db.dispose()
        print("sqlite", results["storage"]["sqlite"], flush=True)
        if args.pg_url:
            db, admin = await fresh_postgres(args.pg_url)
            name = make_url(db.url).database or ""
            try:
                results["storage"]["postgresql"] = await storage(
                    db, "postgresql", args.chargers, args.hours, args.interval
                )
            finally:
                await db.dispose()
                await drop_postgres(admin, name)
            print("postgresql", results["storage"]["postgresql"], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours stored")
    parser.add_argument("--interval", type=int, default=10, help="s between meter values")
    parser.add_argument("--cost-seconds", type=int, default=600)
    parser.add_argument("--pg-url", default=None, help="postgresql+asyncpg://… to measure too")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    command = ".venv/bin/python -m bench.history " + " ".join(sys.argv[1:])
    text_out = report(args, results, command.strip())
    print(text_out)
    if args.out:
        args.out.write_text(text_out)


if __name__ == "__main__":
    main()
