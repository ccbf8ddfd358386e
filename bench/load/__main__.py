"""``python -m bench.load``: the control loop at scale, end to end.

Two measurements on the real stack (the app's components: OCPP server, control loop;
the REST API through httpx over ASGI; simulated chargers over real WebSockets on
127.0.0.1):

``latency``  one site, N chargers (1,000 by default), every one charging, the fleet in
             a child process on the other core (``fleet_proc``). Repeated
             ``PATCH /sites/{id}`` of ``available_current``, alternately down and up,
             spaced past the increase holdoff. Per PATCH, from the moment the request is
             issued: the round's last SetChargingProfile handed to its socket, and the
             last charger answer. Server-side monotonic timestamps (ControlLoop rounds).
``overload`` a fault-injected run (links dropped, profiles refused, slow answers, cars
             arriving and leaving, random available-current changes) at faster than
             real time; the ampere-seconds any fuse carried above its rating, from the
             simulator's PHYSICAL per-phase draw, integrated in simulated time.

Results go to stdout and to ``bench/results/load.md`` with the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop
from sqlalchemy import insert

from chargegrid.app import Runtime, build_app, components_for
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.control.component import HANDLE
from chargegrid.control.loop import ControlLoop, RoundStats
from chargegrid.ocpp.gc_tuning import calm_gc
from chargegrid.services.auth import Role, create_token
from chargegrid.sim.charger import ChargerSpec
from chargegrid.sim.draw_log import DrawSample
from chargegrid.sim.faults import Faults
from chargegrid.sim.fleet import Fleet, FleetConfig, charger_specs
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork

from . import fleet_proc

RESULTS = Path(__file__).resolve().parent.parent / "results" / "load.md"
NOTES = "\n## Notes (kept when the benchmark records again)\n"
API = "/api/v1"
# ``--gc serve`` (the default): the collector as ``chargegrid serve`` leaves it, calmed
# and with everything built at start-up frozen; ``default``: CPython's own settings.
GC_MODE = {"mode": "serve"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Stack:
    runtime: Runtime
    client: httpx.AsyncClient
    token: str
    site_id: uuid.UUID
    circuits: list[uuid.UUID]
    fleet: Fleet

    @property
    def loop(self) -> ControlLoop:
        loop: ControlLoop = self.runtime.handles[HANDLE]
        return loop

    async def patch(self, amps: float) -> httpx.Response:
        return await self.client.patch(
            f"{API}/sites/{self.site_id}",
            json={"available_current": amps},
            headers={"Authorization": f"Bearer {self.token}"},
        )


async def seed(
    db: Database,
    specs: list[ChargerSpec],
    site_a: float,
    circuit_a: float,
    circuits: int,
    extra_tags: list[str],
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    site_id = uuid.uuid4()
    circuit_ids = [uuid.uuid4() for _ in range(circuits)]
    charger_rows, evse_rows, connector_rows, tags = [], [], [], []
    for n, spec in enumerate(specs):
        charger_id, evse_id = uuid.uuid4(), uuid.uuid4()
        charger_rows.append(
            {
                "id": charger_id,
                "site_id": site_id,
                "circuit_id": circuit_ids[n % circuits],
                "ocpp_id": spec.ocpp_id,
                "max_charge_phases": spec.phases,
                "meter_value_interval": 60,
            }
        )
        evse_rows.append({"id": evse_id, "charger_id": charger_id, "evse_number": 1})
        connector_rows.append(
            {
                "id": uuid.uuid4(),
                "evse_id": evse_id,
                "charger_id": charger_id,
                "connector_id": 1,
                "power_type": "AC_3_PHASE" if spec.phases == 3 else "AC_1_PHASE",
                "phase_rotation": spec.rotations[0] if spec.rotations else "RST",
                "max_amperage": 32,
            }
        )
        tags.append(f"BENCH-{spec.ocpp_id}")
    async with db.session() as s:
        await s.execute(insert(m.Site).values(id=site_id, name="Bench", max_current=site_a))
        await s.execute(
            insert(m.Circuit),
            [
                {"id": c, "site_id": site_id, "name": f"C{i}", "max_current": circuit_a}
                for i, c in enumerate(circuit_ids)
            ],
        )
        await s.execute(insert(m.Charger), charger_rows)
        await s.execute(insert(m.Evse), evse_rows)
        await s.execute(insert(m.Connector), connector_rows)
        await s.execute(
            insert(m.IdTag),
            [{"id": uuid.uuid4(), "id_tag": t, "status": "Accepted"} for t in tags + extra_tags],
        )
    return site_id, circuit_ids


@asynccontextmanager
async def stack(
    chargers: int,
    site_a: float,
    circuit_a: float,
    circuits: int,
    fleet_options: dict[str, Any],
    *,
    fleet_process: bool = False,
) -> AsyncIterator[Stack]:
    """The server stack; the fleet in this process, or (``fleet_process``) in a child
    process on the other core, so the server's timings are its own."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            ocpp_port=free_port(),
        )
        db = Database(settings.database_url)
        await upgrade(db.engine)
        url = f"ws://127.0.0.1:{settings.ocpp_port}/ocpp"
        config = (
            fleet_proc.fleet_config(url, chargers)
            if fleet_process
            else FleetConfig(url=url, chargers=chargers, seed=5, **fleet_options)
        )
        specs = charger_specs(config)
        site_id, circuit_ids = await seed(
            db, specs, site_a, circuit_a, circuits, list(config.id_tags)
        )
        async with UnitOfWork(db) as uow:
            token = await create_token(uow, Role.ADMIN)
        runtime = Runtime(settings, db, EventBus())
        app = build_app(settings, runtime=runtime)
        fleet = Fleet(config, specs=specs)
        try:
            async with AsyncExitStack() as components:
                for component in components_for(settings):
                    await components.enter_async_context(component(runtime))
                if GC_MODE["mode"] == "serve":
                    # As `chargegrid serve`: calm_gc() and app.serve's gc.freeze() once
                    # the components are up, before any charger connects.
                    calm_gc()
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    if fleet_process:
                        child = await spawn_fleet(url, chargers)
                    else:
                        await fleet.start()
                    try:
                        yield Stack(runtime, client, token, site_id, circuit_ids, fleet)
                    finally:
                        if fleet_process:
                            assert child.stdin is not None
                            child.stdin.close()
                            await child.wait()
                        else:
                            await fleet.stop()
        finally:
            await db.dispose()


async def spawn_fleet(url: str, chargers: int) -> asyncio.subprocess.Process:
    argv = [
        sys.executable,
        "-m",
        "bench.load.fleet_proc",
        "--url",
        url,
        "--chargers",
        str(chargers),
    ]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "1", *argv]
    return await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )


async def until(check: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def latency(
    chargers: int, patches: int, profile: Path | None = None, warmup: int = 1
) -> dict[str, Any]:
    # Site-bound: 3-phase chargers and 1-phase ones spread over L1..L3.
    async with stack(
        chargers,
        site_a=30_000.0,
        circuit_a=30_000.0,
        circuits=10,
        fleet_options={},
        fleet_process=True,
    ) as s:

        def all_planned() -> bool:
            view = s.loop.view(str(s.site_id))
            return view is not None and len(view["sessions"]) == chargers

        await until(all_planned, 600, "every charger booted and charging, in the plan")
        await s.loop.settle()
        rounds: list[RoundStats] = []
        s.loop.round_listeners.append(rounds.append)
        holdoff = s.loop.settings.apply.increase_holdoff_s
        # ~0.83 N sessions load each phase: ~10.8 A and ~9.6 A a session, every one changes.
        levels = (9.0 * chargers, 8.0 * chargers)
        sent_ms, acked_ms, profiles = [], [], []
        breakdown: list[dict[str, float]] = []
        # The whole server process, from the PATCH issued to its rounds done (the fleet
        # runs in its own process, so what is profiled is the server's own work).
        profiler = cProfile.Profile() if profile is not None else None
        for n in range(warmup + patches):
            await asyncio.sleep(holdoff + 0.2)  # past the increase holdoff of the last PATCH
            await s.loop.settle()
            rounds.clear()
            if profiler is not None:
                profiler.enable()
            t0 = time.monotonic()
            response = await s.patch(levels[n % 2])
            assert response.status_code == 200, response.text
            await s.loop.settle()
            if profiler is not None:
                profiler.disable()
            done = [r for r in rounds if r.report.sent and r.triggered_at >= t0 - 0.001]
            if not done:
                raise RuntimeError(f"PATCH {n} produced no profiles")
            last_sent = max(r.report.last_sent_at or 0.0 for r in done)
            last_answer = max(r.report.last_answer_at or 0.0 for r in done)
            sent_ms.append((last_sent - t0) * 1000)
            acked_ms.append((last_answer - t0) * 1000)
            profiles.append(sum(r.report.sent for r in done))
            first = done[0]
            breakdown.append(
                {
                    "trigger_ms": (first.triggered_at - t0) * 1000,
                    "round_start_ms": (first.started_at - t0) * 1000,
                    "loaded_ms": (first.loaded_at - t0) * 1000,
                    "planned_ms": (first.planned_at - t0) * 1000,
                    "first_sent_ms": ((first.report.first_sent_at or t0) - t0) * 1000,
                    "last_sent_ms": sent_ms[-1],
                }
            )
            outcomes = [o for r in done for steps in r.report.outcomes.values() for _, o in steps]
            if any(o.value != "accepted" for o in outcomes):
                raise RuntimeError(f"PATCH {n}: not every profile was accepted")
        if profiler is not None and profile is not None:
            profiler.dump_stats(profile)
        # The first PATCHes after start-up pay one-off costs (the API's first UPDATE,
        # first-time code paths, the collector catching up with the boot's objects):
        # reported on their own, not in the percentiles.
        cold = [
            {k: round(v, 1) for k, v in b.items()} | {"acked_ms": round(a, 1)}
            for b, a in zip(breakdown[:warmup], acked_ms[:warmup], strict=True)
        ]
        sent_ms, acked_ms = sent_ms[warmup:], acked_ms[warmup:]
        breakdown, profiles = breakdown[warmup:], profiles[warmup:]
        return {
            "chargers": chargers,
            "patches": patches,
            "warmup_patches": cold,
            "profiles_per_patch": statistics.median(profiles),
            "sent_ms": {
                "p50": percentile(sent_ms, 50),
                "p99": percentile(sent_ms, 99),
                "max": max(sent_ms),
            },
            "acknowledged_ms": {
                "p50": percentile(acked_ms, 50),
                "p99": percentile(acked_ms, 99),
                "max": max(acked_ms),
            },
            # Where the time goes, from the PATCH request issued: the loop's trigger
            # (HTTP, auth, commit, event), the round's start (debounce), the snapshot
            # up to date, the plan ready, the first profile sent.
            "breakdown_p50_ms": {
                k: statistics.median(b[k] for b in breakdown) for k in breakdown[0]
            },
            "breakdown_max_ms": {k: max(b[k] for b in breakdown) for k in breakdown[0]},
            "per_patch_ms": [
                {k: round(v, 1) for k, v in b.items()} | {"acked_ms": round(a, 1)}
                for b, a in zip(breakdown, acked_ms, strict=True)
            ],
        }


def overload_ampere_seconds(
    samples: list[DrawSample],
    circuit_of: dict[str, int],
    site_a: float,
    circuit_a: float,
    tick_s: float,
    speed: float,
) -> tuple[float, float]:
    """Sum over physics steps of every fuse's per-phase excess times the step's
    simulated length; also the largest excess seen. A step records its connectors one
    after another; samples closer than half a tick belong to one step, judged whole."""
    latest: dict[tuple[str, int], DrawSample] = {}
    total = worst = 0.0
    for n, sample in enumerate(samples):
        latest[(sample.ocpp_id, sample.connector_id)] = sample
        if n + 1 < len(samples) and samples[n + 1].t - sample.t < tick_s / 2:
            continue
        site = [0.0, 0.0, 0.0]
        circuits: dict[int, list[float]] = {}
        for (ocpp_id, _), s in latest.items():
            per = circuits.setdefault(circuit_of[ocpp_id], [0.0, 0.0, 0.0])
            for i, amps in enumerate((s.l1, s.l2, s.l3)):
                site[i] += amps
                per[i] += amps
        for values, limit in [(site, site_a)] + [(v, circuit_a) for v in circuits.values()]:
            for amps in values:
                excess = max(0.0, amps - limit)
                total += excess * tick_s * speed
                worst = max(worst, excess)
    return total, worst


def peak_drawing(samples: list[DrawSample], tick_s: float) -> int:
    """The most connectors drawing current at the end of one physics step."""
    latest: dict[tuple[str, int], float] = {}
    peak = 0
    for n, sample in enumerate(samples):
        latest[(sample.ocpp_id, sample.connector_id)] = max(sample.l1, sample.l2, sample.l3)
        if n + 1 == len(samples) or samples[n + 1].t - sample.t >= tick_s / 2:
            peak = max(peak, sum(1 for amps in latest.values() if amps > 0))
    return peak


async def overload(chargers: int, sim_minutes: float, speed: float) -> dict[str, Any]:
    site_a, circuit_a, circuits = 400.0, 160.0, 4
    tick_s = 0.1
    faults = Faults(drop_link_every_s=15.0, refuse_profiles=0.05, answer_delay_s=0.05)
    async with stack(
        chargers,
        site_a=site_a,
        circuit_a=circuit_a,
        circuits=circuits,
        fleet_options={
            "speed": speed,
            "tick_s": tick_s,
            "mean_idle_s": 120.0,
            "mean_stay_s": 600.0,
            "faults": faults,
            # Plenty of tags: a tag charges one car at a time, and cars take them in turn.
            "id_tags": tuple(f"BENCH-TAG-{n}" for n in range(10 * chargers)),
        },
    ) as s:
        booted = lambda: all(c.booted.is_set() for c in s.fleet.chargers.values())  # noqa: E731
        await until(booted, 300, "every charger to boot")
        s.fleet.draw_log.samples.clear()
        started = time.monotonic()
        rng = random.Random(11)
        real_s = sim_minutes * 60.0 / speed
        changes = 0
        while time.monotonic() - started < real_s:
            await asyncio.sleep(rng.uniform(2.0, 6.0))
            amps = rng.choice([-1.0, 300.0, 200.0, 120.0, 60.0])
            response = await s.patch(amps)
            assert response.status_code == 200, response.text
            changes += 1
        samples = list(s.fleet.draw_log.samples)
        circuit_of = {
            spec.ocpp_id: n % circuits
            for n, spec in enumerate(c.spec for c in s.fleet.chargers.values())
        }
        amp_s, worst = overload_ampere_seconds(
            samples, circuit_of, site_a, circuit_a, tick_s, speed
        )
        flagged = len(s.loop.engine.flags())
        return {
            "chargers": chargers,
            "simulated_minutes": round((samples[-1].t - samples[0].t) * speed / 60, 1)
            if samples
            else 0,
            "speed": speed,
            "available_current_changes": changes,
            "faults": {
                "drop_link_every_s": faults.drop_link_every_s,
                "refuse_profiles": faults.refuse_profiles,
                "answer_delay_s": faults.answer_delay_s,
            },
            "overload_ampere_seconds": round(amp_s, 3),
            "worst_excess_a": round(worst, 3),
            "chargers_flagged_at_end": flagged,
            "transactions_started": sum(c.transactions_started for c in s.fleet.chargers.values()),
            "peak_cars_drawing": peak_drawing(samples, tick_s),
            "draw_samples": len(samples),
        }


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def record(command: str, results: dict[str, Any]) -> None:
    lines = [
        "# Control loop benchmark (`bench/load`)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()} (shared with other work while it ran).",
        "",
    ]
    if "latency" in results:
        r = results["latency"]
        lines += [
            f"## PATCH available_current -> SetChargingProfile, {r['chargers']} chargers",
            "",
            f"{r['patches']} PATCHes (alternately down and up), "
            f"{r['profiles_per_patch']:.0f} profiles each.",
            "",
            "| from the PATCH request to | p50 ms | p99 ms | max ms | goal |",
            "|---|---|---|---|---|",
            f"| last SetChargingProfile sent | {r['sent_ms']['p50']:.1f} | "
            f"{r['sent_ms']['p99']:.1f} | {r['sent_ms']['max']:.1f} | p99 ≤ 50 ms |",
            f"| last one acknowledged | {r['acknowledged_ms']['p50']:.1f} | "
            f"{r['acknowledged_ms']['p99']:.1f} | {r['acknowledged_ms']['max']:.1f} | "
            "p99 ≤ 1000 ms |",
            "",
            "Where the time goes (ms after the PATCH request was issued, p50 / max):",
            "",
            "| stage | p50 | max |",
            "|---|---|---|",
            *(
                f"| {stage} | {r['breakdown_p50_ms'][stage]:.1f} | "
                f"{r['breakdown_max_ms'][stage]:.1f} |"
                for stage in r["breakdown_p50_ms"]
            ),
            "",
            "`trigger`: HTTP, auth, the commit and the `config.changed` event reached the loop;",
            "`round_start`: the round began (no debounce window for `config.changed`);",
            "`loaded`: the site's fuse tree re-read; `planned`: problem built and allocated;",
            "`first_sent`: setpoints, the diff and every payload built, the first profile on",
            "its socket; `last_sent`: the wave written, one frame after the other from one",
            "task (schema check, encoding, the WebSocket write).",
            "",
            *(
                f"Warm-up PATCH {n + 1} (first after start-up, not in the percentiles): "
                f"last sent {w['last_sent_ms']:.1f} ms, acknowledged {w['acked_ms']:.1f} ms "
                f"(trigger {w['trigger_ms']:.1f}, planned {w['planned_ms']:.1f}, "
                f"first sent {w['first_sent_ms']:.1f})."
                for n, w in enumerate(r.get("warmup_patches", []))
            ),
            "",
        ]
    if "overload" in results:
        r = results["overload"]
        lines += [
            "## Fault-injected run: overload ampere-seconds",
            "",
            "```json",
            json.dumps(r, indent=2),
            "```",
            "",
        ]
    lines += [
        "Latency: the server stack (API, OCPP server, control loop) in this process on",
        "core 0; the 1,000 simulated chargers in a child process on core 1; real",
        "WebSockets on 127.0.0.1. Overload: the simulator in the server's process at",
        "10x real time, every fuse judged at the end of every physics step from the",
        "cars' physical draw. The machine (2 cores) was shared with other work.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # Hand-written notes (profiles, history) below NOTES survive a new recording.
    kept = RESULTS.read_text().partition(NOTES) if RESULTS.exists() else ("", "", "")
    RESULTS.write_text("\n".join(lines) + (kept[1] + kept[2] if kept[1] else ""))


def main() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the server on core 0; the fleet process on core 1
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--patches", type=int, default=40)
    parser.add_argument("--overload-chargers", type=int, default=200)
    parser.add_argument("--sim-minutes", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--only", choices=["latency", "overload"])
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="PATCHes first sent and reported apart, not in the percentiles",
    )
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--profile", type=Path, help="cProfile the server around every PATCH round, to FILE"
    )
    parser.add_argument(
        "--server-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the server's event loop (`chargegrid serve` runs on uvloop)",
    )
    parser.add_argument(
        "--gc",
        choices=["serve", "default"],
        default="serve",
        help="the cyclic GC as `chargegrid serve` sets it, or CPython's defaults",
    )
    args = parser.parse_args()
    GC_MODE["mode"] = args.gc
    run = uvloop.run if args.server_loop == "uvloop" else asyncio.run
    results: dict[str, Any] = {}
    if args.only in (None, "latency"):
        results["latency"] = run(latency(args.chargers, args.patches, args.profile, args.warmup))
        print(json.dumps(results["latency"], indent=2), flush=True)
    if args.only in (None, "overload"):
        results["overload"] = run(overload(args.overload_chargers, args.sim_minutes, args.speed))
        print(json.dumps(results["overload"], indent=2), flush=True)
    if not args.no_record:
        record(".venv/bin/python -m bench.load " + " ".join(sys.argv[1:]), results)


if __name__ == "__main__":
    main()
