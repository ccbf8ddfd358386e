"""``python -m bench.storm``: the reconnect storm (issue 13, part 2).

The server as ``chargegrid serve`` runs it (the app's components, uvloop, ``calm_gc()``)
in this process, on a SQLite file (``--database postgres``: a fresh database on the
PostgreSQL at 127.0.0.1). N chargers (10,000) are seeded in bulk (``bench.boot.seed``:
one EVSE/connector each, on ``--sites`` sites with circuits). The chargers run in
``--fleets`` child processes (``bench.storm.fleet``), each a slice: every socket opens
at the same moment, each charger boots at once, reports its connectors and answers
every CALL Accepted. Then, per ``--then`` entry, every socket drops at once and every
charger reconnects at once (``abort``: the TCP connections are torn down, the server
must clean 10,000 dead connections while 10,000 new ones arrive; ``silent``: the old
ones stay open and unread, replaced by the new ones).

Measured per wave: time from the wave's start to each BootNotification answered
Accepted (p50/p99/max, and until the last), handshakes that failed (and were retried),
CallErrors the chargers got (InternalError in particular), the server's log lines at
WARNING and above (tracebacks apart), and per connection how many times each charger
got the post-boot exchange (GetConfiguration, each ChangeConfiguration key): exactly
once is the rule. Results to stdout and ``bench/results/storm.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import uvloop
from bench.boot.__main__ import seed, summary
from bench.load.__main__ import free_port, machine
from bench.ocpp.server import raise_fd_limit

from chargegrid.app import Runtime, components_for
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.control.component import HANDLE
from chargegrid.control.loop import ControlLoop
from chargegrid.ocpp.component import CENTRAL_HANDLE
from chargegrid.ocpp.gc_tuning import calm_gc
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

RESULTS = Path(__file__).resolve().parent.parent / "results" / "storm.md"
NOTES = "\n## Notes (kept when the benchmark records again)\n"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "chargegrid_storm"
GOAL_S = 30.0


@dataclass
class LogTally(logging.Handler):
    """The server's log lines at WARNING and above, by logger and message template."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    tracebacks: int = 0
    examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.levelname, record.name, str(record.msg)[:120])] += 1
        if record.exc_info:
            self.tracebacks += 1
            if len(self.examples) < 3:
                self.examples.append(self.format(record)[-1500:])

    def __hash__(self) -> int:
        return id(self)


async def fresh_postgres() -> str:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DATABASE}"


async def spawn(url: str, args: argparse.Namespace, first: int, count: int, out: Path) -> Any:
    argv = [
        sys.executable,
        "-m",
        "bench.storm.fleet",
        f"--url={url}",
        f"--first={first}",
        f"--count={count}",
        f"--then={args.then}",
        f"--deadline={args.deadline}",
        f"--linger={args.linger}",
        f"--out={out}",
    ]
    if args.pin and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "1", *argv]
    return await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


async def expect(child: Any, line: str) -> None:
    got = (await child.stdout.readline()).decode().strip()
    if got != line:
        raise RuntimeError(f"fleet said {got!r}, expected {line!r}")


async def storm(args: argparse.Namespace, tally: LogTally) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "postgres":
            url = await fresh_postgres()
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'storm.db'}"
        settings = Settings(database_url=url, ocpp_port=free_port())
        db = Database(settings.database_url)
        await upgrade(db.engine)
        await seed(db, args.chargers, args.sites, args.circuits)
        runtime = Runtime(settings, db, EventBus())
        try:
            async with AsyncExitStack() as components:
                for component in components_for(settings):
                    await components.enter_async_context(component(runtime))
                loop: ControlLoop = runtime.handles[HANDLE]
                await loop.settle()
                calm_gc()
                central = runtime.handles[CENTRAL_HANDLE]
                ws_url = f"ws://127.0.0.1:{settings.ocpp_port}/ocpp"
                per = -(-args.chargers // args.fleets)
                slices = [
                    (first, min(per, args.chargers - first))
                    for first in range(0, args.chargers, per)
                ]
                outs = [Path(tmp) / f"fleet{i}.json" for i in range(len(slices))]
                children = [
                    await spawn(ws_url, args, first, count, out)
                    for (first, count), out in zip(slices, outs, strict=True)
                ]
                for child in children:
                    await expect(child, "READY")
                waves = 1 + len([d for d in args.then.split(",") if d])
                server_side: list[dict[str, Any]] = []
                for index in range(waves):
                    logged = sum(tally.counts.values()), tally.tracebacks
                    cpu_before = time.process_time()
                    go_at = time.monotonic() + 1.0
                    for child in children:
                        child.stdin.write(f"GO {index} {go_at}\n".encode())
                        await child.stdin.drain()
                    for child in children:
                        await expect(child, f"SETTLED {index}")
                    server_side.append(
                        {
                            "log_lines": sum(tally.counts.values()) - logged[0],
                            "tracebacks": tally.tracebacks - logged[1],
                            "connected": len(central.gateway.connected()),
                            "online": len(central.gateway.online()),
                            # From GO to settled (5 s linger included): what a
                            # connection costs the server, all threads.
                            "cpu_s": round(time.process_time() - cpu_before, 1),
                        }
                    )
                for child in children:
                    child.stdin.write(b"END\n")
                    child.stdin.close()
                    if await child.wait() != 0:
                        raise RuntimeError(f"a fleet process failed ({child.returncode})")
                fleet_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
                parts = [orjson.loads(out.read_bytes())["waves"] for out in outs]
                results = [
                    analyse([part[i] for part in parts], server_side[i]) for i in range(waves)
                ]
                return {
                    "chargers": args.chargers,
                    "database": args.database,
                    "waves": results,
                    "fleet_cpu_s": round(fleet_cpu.ru_utime + fleet_cpu.ru_stime, 1),
                    "server_cpu_s": round(time.process_time(), 1),
                    "log": [
                        {"level": k[0], "logger": k[1], "message": k[2], "count": n}
                        for k, n in tally.counts.most_common(12)
                    ],
                    "traceback_examples": tally.examples,
                }
        finally:
            await db.dispose()


def analyse(slices: list[dict[str, Any]], server: dict[str, Any]) -> dict[str, Any]:
    links = [link for s in slices for link in s["links"]]
    go_at = slices[0]["go_at"]
    accepted = [(r["accepted_at"] - go_at) for r in links if r["accepted_at"] is not None]
    call_errors = Counter(e for r in links for e in r["call_errors"])
    handshake = Counter(e.split(":")[0] for r in links for e in r["handshake_errors"])
    exchange = Counter()  # per charger: the post-boot exchange, how many times
    for r in links:
        gets = r["calls"].get("GetConfiguration", 0)
        sets = set(r["settings"].values()) or {0}
        if gets == 1 and sets == {1}:
            exchange["once"] += 1
        elif gets == 0 and sets == {0}:
            exchange["never"] += 1
        elif gets > 1 or max(sets) > 1:
            exchange["more than once"] += 1
        else:
            exchange["partly"] += 1
    calls = Counter()
    for r in links:
        calls.update(r["calls"])
    return {
        "drop": slices[0]["drop"],
        "chargers": len(links),
        "accepted": len(accepted),
        "to_accepted_s": summary(accepted),
        "all_accepted_s": round(max(accepted), 2) if len(accepted) == len(links) else None,
        "handshake_failures": sum(handshake.values()),
        "handshake_failures_by_kind": dict(handshake),
        "chargers_retried": sum(1 for r in links if r["handshake_errors"]),
        "call_errors": dict(call_errors),
        "internal_errors": sum(n for e, n in call_errors.items() if e.endswith(":InternalError")),
        "errors": Counter(r["error"] for r in links if r["error"]).most_common(5),
        "exchange": dict(exchange),
        "calls_per_connection": {k: round(v / len(links), 2) for k, v in sorted(calls.items())},
        "server": server,
    }


def _s(stats: dict[str, Any]) -> str:
    if not stats.get("n"):
        return "| 0 | | | |"
    return f"| {stats['n']} | {stats['p50']} | {stats['p99']} | {stats['max']} |"


def table(result: dict[str, Any]) -> list[str]:
    rows = [
        f"{result['chargers']} chargers on {result['database']}.",
        "",
        "| wave | Accepted | to Accepted p50 s | p99 s | max s | all Accepted s | "
        "handshake failures | CallErrors (InternalError) | server log lines ≥ WARNING "
        "(tracebacks) | exchange once / more / never / partly |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, w in enumerate(result["waves"]):
        s, x = w["to_accepted_s"], w["exchange"]
        name = "first connect" if i == 0 else f"drop ({w['drop']}) + reconnect"
        rows.append(
            f"| {name} | {w['accepted']}/{w['chargers']} | {s.get('p50', '')} | "
            f"{s.get('p99', '')} | {s.get('max', '')} | {w['all_accepted_s']} | "
            f"{w['handshake_failures']} | {sum(w['call_errors'].values())} "
            f"({w['internal_errors']}) | {w['server']['log_lines']} "
            f"({w['server']['tracebacks']}) | {x.get('once', 0)} / "
            f"{x.get('more than once', 0)} / {x.get('never', 0)} / {x.get('partly', 0)} |"
        )
    return rows


def record(command: str, result: dict[str, Any], note: str, commit: str) -> None:
    lines = [
        "# Reconnect storm benchmark (`bench/storm`)",
        "",
        f"Command: `{command}` (commit {commit})",
        "",
        f"Machine: {note}; shared with other engineers' work.",
        "",
        *table(result),
        "",
        f"Server CPU {result['server_cpu_s']} s, fleet processes {result['fleet_cpu_s']} s.",
        "",
        "Server log lines (most frequent): "
        + (
            "; ".join(
                f"{e['level']} {e['logger']} “{e['message']}”: {e['count']}" for e in result["log"]
            )
            or "none"
        ),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    kept = RESULTS.read_text().partition(NOTES) if RESULTS.exists() else ("", "", "")
    RESULTS.write_text("\n".join(lines) + (kept[1] + kept[2] if kept[1] else ""))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storm")
    parser.add_argument("--chargers", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--circuits", type=int, default=4, help="per site")
    parser.add_argument("--fleets", type=int, default=2, help="client processes")
    parser.add_argument("--then", default="abort", help="drops after the first wave")
    parser.add_argument("--deadline", type=float, default=120.0, help="a wave's most (s)")
    parser.add_argument("--linger", type=float, default=5.0, help="after a wave settled (s)")
    parser.add_argument("--pin", action="store_true", help="server on core 0, fleets on 1")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    raise_fd_limit()
    if args.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    note = machine()
    # Taken now: other engineers commit to the same checkout while this runs.
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    result = uvloop.run(storm(args, tally))
    load = os.getloadavg()
    note += f", at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    print(json.dumps(result, indent=2), flush=True)
    if not args.no_record:
        record(" ".join([".venv/bin/python -m bench.storm", *sys.argv[1:]]), result, note, commit)


if __name__ == "__main__":
    main()
