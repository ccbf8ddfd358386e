"""``python -m bench.boot``: a boot storm against the real server (issue 11, rule 2).

The server as ``chargegrid serve`` runs it (uvloop, ``calm_gc()``, the app's components:
the OCPP server with ``limits_first`` wired to the control loop), SQLite in a temp dir,
in this process on core 0. N chargers (1,000), one EVSE/connector each, seeded on one
site with circuits (``--sites`` for several). The chargers (``bench.boot.fleet``: raw
WebSockets, orjson) in a child process on core 1: every socket opens first, then each
charger boots at a uniformly random moment of the window (10 s), answers every CALL at
once, and a fraction (50 %) starts a transaction 1-3 s after its boot was answered.

Measured per charger, client side, on one monotonic clock (CLOCK_MONOTONIC, shared by
both processes, so server stamps line up with the client's):

- boot answered (Accepted) -> failsafe (TxDefaultProfile, stack level 0) acknowledged:
  the goal, p99 <= 200 ms;
- -> first live profile (stack level >= 1) acknowledged; -> first GetConfiguration;
- order: a GetConfiguration/ChangeConfiguration before the failsafe, or any CALL
  before the BootNotification was answered (both must be 0);
- chargers that started a transaction: how long they drew with no profile at all
  (StartTransaction sent -> first profile acknowledged; 0 if one was there before).

Server side: its CPU over the window, each round (start, loaded, planned, end), when each
charger became ready and when its failsafe left. Results to stdout and
``bench/results/boot.md`` with the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvloop
from bench.load.__main__ import free_port, machine, percentile
from sqlalchemy import insert

from chargegrid.app import Runtime, components_for
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.control.apply import EvseKey, Outcome, StepKind
from chargegrid.control.component import HANDLE
from chargegrid.control.loop import ControlLoop, RoundStats
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.component import CENTRAL_HANDLE
from chargegrid.ocpp.gc_tuning import calm_gc
from chargegrid.services.charger_ports import ChargerRecord
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

from .fleet import id_tag, ocpp_id

RESULTS = Path(__file__).resolve().parent.parent / "results" / "boot.md"
NOTES = "\n## Notes (kept when the benchmark records again)\n"
GOAL_MS = 200.0


def summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


async def seed(db: Database, chargers: int, sites: int, circuits: int) -> dict[str, str]:
    """Sites with circuits, one 3-phase EVSE/connector per charger, a tag each; the
    ocpp id of each charger's uuid."""
    site_ids = [uuid.uuid4() for _ in range(sites)]
    circuit_ids = {s: [uuid.uuid4() for _ in range(circuits)] for s in site_ids}
    per_site = -(-chargers // sites)
    charger_rows, evse_rows, connector_rows, tags = [], [], [], []
    ids: dict[str, str] = {}
    for n in range(chargers):
        site = site_ids[n % sites]
        charger_id, evse_id = uuid.uuid4(), uuid.uuid4()
        name = ocpp_id(n)
        ids[str(charger_id)] = name
        charger_rows.append(
            {
                "id": charger_id,
                "site_id": site,
                "circuit_id": circuit_ids[site][(n // sites) % circuits],
                "ocpp_id": name,
                "max_charge_phases": 3,
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
                "power_type": "AC_3_PHASE",
                "phase_rotation": "RST",
                "max_amperage": 32,
            }
        )
        tags += [id_tag(name, 0), id_tag(name, 1)]
    # Fuses that bind: ~10 A a charger on the site, ~13 A on a circuit.
    site_a = 10.0 * per_site
    circuit_a = 13.0 * per_site / circuits
    async with db.session() as s:
        await s.execute(
            insert(m.Site),
            [
                {"id": sid, "name": f"Boot {i}", "max_current": site_a}
                for i, sid in enumerate(site_ids)
            ],
        )
        await s.execute(
            insert(m.Circuit),
            [
                {"id": c, "site_id": sid, "name": f"C{i}", "max_current": circuit_a}
                for sid in site_ids
                for i, c in enumerate(circuit_ids[sid])
            ],
        )
        await s.execute(insert(m.Charger), charger_rows)
        await s.execute(insert(m.Evse), evse_rows)
        await s.execute(insert(m.Connector), connector_rows)
        await s.execute(
            insert(m.IdTag), [{"id": uuid.uuid4(), "id_tag": t, "status": "Accepted"} for t in tags]
        )
    return ids


@dataclass
class Probe:
    """Server-side stamps (monotonic): rounds, readiness, failsafes sent."""

    rounds: list[tuple[float, RoundStats]]
    # Per ocpp id, every time: charger.ready published, a failsafe handed to its socket,
    # the answer to one booked.
    ready_at: dict[str, list[float]]
    failsafe_sent_at: dict[str, list[float]]
    failsafe_answered_at: dict[str, list[float]]
    cpu: list[tuple[float, float]]  # (monotonic, process CPU seconds)


class _Observer:
    """Wraps the engine's observer: the first failsafe each charger was sent."""

    def __init__(self, inner: Any, ids: dict[str, str], probe: Probe) -> None:
        self.inner, self.ids, self.probe = inner, ids, probe

    def profile_sent(self, key: EvseKey, kind: StepKind, at: float) -> None:
        if kind is StepKind.FAILSAFE:
            self.probe.failsafe_sent_at.setdefault(self.ids.get(key.charger_id, "?"), []).append(at)
        if self.inner is not None:
            self.inner.profile_sent(key, kind, at)

    def profile_answered(self, key: EvseKey, kind: StepKind, outcome: Outcome, at: float) -> None:
        if kind is StepKind.FAILSAFE:
            name = self.ids.get(key.charger_id, "?")
            self.probe.failsafe_answered_at.setdefault(name, []).append(at)
        if self.inner is not None:
            self.inner.profile_answered(key, kind, outcome, at)


def instrument(loop: ControlLoop, central: OcppCentralSystem, ids: dict[str, str]) -> Probe:
    probe = Probe([], {}, {}, {}, [])
    loop.round_listeners.append(lambda r: probe.rounds.append((time.monotonic(), r)))
    # The bench's own stamps, beside what the server does (private attribute on purpose).
    loop.engine._observer = _Observer(loop.engine._observer, ids, probe)
    messages = central.messages
    ready = messages.ready

    def stamped(charger: ChargerRecord, *, rebooted: bool) -> None:
        probe.ready_at.setdefault(charger.ocpp_id, []).append(time.monotonic())
        ready(charger, rebooted=rebooted)

    messages.ready = stamped  # type: ignore[method-assign]
    return probe


async def sample_cpu(probe: Probe) -> None:
    while True:
        probe.cpu.append((time.monotonic(), time.process_time()))
        await asyncio.sleep(0.25)


async def spawn_fleet(url: str, args: argparse.Namespace, out: Path) -> asyncio.subprocess.Process:
    argv = [
        sys.executable,
        "-m",
        "bench.boot.fleet",
        f"--url={url}",
        f"--chargers={args.chargers}",
        f"--window={args.window}",
        f"--transacting={args.transacting}",
        f"--tail={args.tail}",
        f"--seed={args.seed}",
        f"--out={out}",
        *(["--reboot"] if args.reboot else []),
    ]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "1", *argv]
    return await asyncio.create_subprocess_exec(*argv)


async def storm(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'boot.db'}",
            ocpp_port=free_port(),
        )
        db = Database(settings.database_url)
        await upgrade(db.engine)
        ids = await seed(db, args.chargers, args.sites, args.circuits)
        runtime = Runtime(settings, db, EventBus())
        try:
            async with AsyncExitStack() as components:
                for component in components_for(settings):
                    await components.enter_async_context(component(runtime))
                loop: ControlLoop = runtime.handles[HANDLE]
                await loop.settle()  # the start-up rounds (every charger offline) done
                if args.gc == "serve":
                    calm_gc()  # as `chargegrid serve`: calmed, start-up objects frozen
                probe = instrument(loop, runtime.handles[CENTRAL_HANDLE], ids)
                sampler = asyncio.create_task(sample_cpu(probe))
                url = f"ws://127.0.0.1:{settings.ocpp_port}/ocpp"
                profiler = cProfile.Profile() if args.profile else None
                out = Path(tmp) / "fleet.json"
                child = await spawn_fleet(url, args, out)
                if profiler is not None:
                    profiler.enable()
                await child.wait()
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                sampler.cancel()
                if child.returncode != 0:
                    raise RuntimeError(f"the fleet process failed ({child.returncode})")
                fleet = orjson.loads(out.read_bytes())
                fleet_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s = fleet_cpu.ru_utime + fleet_cpu.ru_stime
                results = [analyse(run, probe, args, cpu_s) for run in fleet["storms"]]
                return {"storm": results[0], "reboot": results[1] if len(results) > 1 else None}
        finally:
            await db.dispose()


def _first_after(stamps: list[float] | None, t: float | None) -> float | None:
    return next((s for s in stamps or () if t is not None and s >= t), None)


def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (b - a) * 1000


def analyse(
    fleet: dict[str, Any], probe: Probe, args: argparse.Namespace, fleet_cpu_s: float
) -> dict[str, Any]:
    records = fleet["records"]
    go_at, window = fleet["go_at"], fleet["window_s"]
    booted = [r for r in records if r["boot_status"] == "Accepted"]

    def interval(start: str, end: str, rows: list[dict[str, Any]] = booted) -> list[float]:
        return [v for r in rows if (v := _ms(r[start], r[end])) is not None]

    transacting = [r for r in booted if r["start_sent_at"] is not None]
    # Drew with no profile at all: from its StartTransaction to its first profile acked.
    uncontrolled = [
        max(0.0, v)
        for r in transacting
        if (v := _ms(r["start_sent_at"], r["first_profile_acked_at"])) is not None
    ]
    # Server side, per charger: boot answered -> ready published -> failsafe sent.
    ready_ms, to_sent_ms, wire_ms, server_ms = [], [], [], []
    for r in booted:
        name, since = r["ocpp_id"], r["boot_sent_at"]
        ready = _first_after(probe.ready_at.get(name), since)
        sent = _first_after(probe.failsafe_sent_at.get(name), since)
        if ready is None or sent is None or r["boot_answered_at"] is None:
            continue
        ready_ms.append((ready - r["boot_answered_at"]) * 1000)
        # The round that sent it started after it was ready (and at or before the send).
        to_sent_ms.append((sent - ready) * 1000)
        answered = _first_after(probe.failsafe_answered_at.get(name), since)
        if answered is not None:
            server_ms.append((answered - ready) * 1000)
        if r["failsafe_received_at"] is not None:
            wire_ms.append((r["failsafe_received_at"] - sent) * 1000)
    storm_rounds = [
        (end, r) for end, r in probe.rounds if go_at <= r.started_at <= go_at + window + 3
    ]
    cpu = [(t, c) for t, c in probe.cpu if go_at <= t <= go_at + window + 3]
    busy = (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) if len(cpu) > 1 else 0.0
    per_second = [
        (cpu[i + 4][1] - cpu[i][1]) / (cpu[i + 4][0] - cpu[i][0]) for i in range(len(cpu) - 4)
    ]
    return {
        "chargers": len(records),
        "sites": args.sites,
        "window_s": window,
        "connect_all_s": round(fleet["connect_s"], 2),
        "booted_accepted": len(booted),
        "errors": [r["error"] for r in records if r["error"]][:5],
        "ms": {
            "boot_answered_to_failsafe_acked": summary(
                interval("boot_answered_at", "failsafe_acked_at")
            ),
            "boot_answered_to_failsafe_received": summary(
                interval("boot_answered_at", "failsafe_received_at")
            ),
            "boot_answered_to_live_acked": summary(interval("boot_answered_at", "live_acked_at")),
            "boot_answered_to_get_configuration": summary(
                interval("boot_answered_at", "get_configuration_at")
            ),
            "boot_sent_to_boot_answered": summary(interval("boot_sent_at", "boot_answered_at")),
        },
        "missing": {
            "failsafe": sum(1 for r in booted if r["failsafe_acked_at"] is None),
            "live": sum(1 for r in booted if r["live_acked_at"] is None),
            "get_configuration": sum(1 for r in booted if r["get_configuration_at"] is None),
        },
        "order": {
            "config_before_failsafe": sum(1 for r in records if r["config_before_failsafe"]),
            "calls_before_boot_answered": sum(1 for r in records if r["calls_before_boot_answer"]),
            "trigger_boot_before_boot": sum(r["triggers_before_boot"] for r in records),
            "first_call_not_failsafe": sum(
                1 for r in booted if r["received"] and r["received"][0] != "SCP:TxDefaultProfile/0"
            ),
        },
        "transactions": {
            "started": len(transacting),
            "drew_with_no_profile": sum(1 for v in uncontrolled if v > 0),
            "no_profile_ms": summary(uncontrolled),
            "start_to_tx_profile_acked_ms": summary(
                interval("start_sent_at", "tx_profile_acked_at", transacting)
            ),
        },
        "server": {
            "cpu_busy_during_storm": round(busy, 3),
            "cpu_busy_peak_1s": round(max(per_second, default=0.0), 3),
            "fleet_process_cpu_s": round(fleet_cpu_s, 1),
            "rounds_during_storm": len(storm_rounds),
            "round_ms": summary([(end - r.started_at) * 1000 for end, r in storm_rounds]),
            "round_load_ms": summary(
                [(r.loaded_at - r.started_at) * 1000 for _, r in storm_rounds]
            ),
            "round_plan_ms": summary(
                [(r.planned_at - r.loaded_at) * 1000 for _, r in storm_rounds]
            ),
            "failsafes_per_round": summary(
                [
                    float(
                        sum(
                            1
                            for s in r.failsafe_report.outcomes.values()
                            for k, _ in s
                            if k is StepKind.FAILSAFE
                        )
                    )
                    for _, r in storm_rounds
                ]
            ),
            "boot_answered_to_ready_ms": summary(ready_ms),
            "ready_to_failsafe_sent_ms": summary(to_sent_ms),
            "ready_to_failsafe_answer_booked_ms": summary(server_ms),
            "failsafe_sent_to_received_ms": summary(wire_ms),
        },
        "example_order": booted[0]["received"] if booted else [],
        "not_failsafe_first": [
            r["received"][:4]
            for r in booted
            if r["received"] and r["received"][0] != "SCP:TxDefaultProfile/0"
        ][:5],
    }


def _row(name: str, s: dict[str, Any], goal: str = "") -> str:
    if not s.get("n"):
        return f"| {name} | 0 | | | | | {goal} |"
    return f"| {name} | {s['n']} | {s['p50']} | {s['p95']} | {s['p99']} | {s['max']} | {goal} |"


def reboot_lines(r: dict[str, Any]) -> list[str]:
    ms, order, tx = r["ms"], r["order"], r["transactions"]
    return [
        "## Then a power cut: every charger boots again (`--reboot`)",
        "",
        "Every socket closed at once; 3 s later the same chargers reconnect and boot again "
        f"within {r['window_s']:g} s, against the server that saw them. "
        f"{r['booted_accepted']} answered Accepted; a failsafe was sent again to "
        f"{r['chargers'] - r['missing']['failsafe']} of them.",
        "",
        "| from the boot answer (client clock) to | n | p50 ms | p95 ms | p99 ms | max ms | |",
        "|---|---|---|---|---|---|---|",
        _row("failsafe acknowledged", ms["boot_answered_to_failsafe_acked"], _goal(r)),
        _row(
            "first live profile (stack level ≥ 1) acknowledged", ms["boot_answered_to_live_acked"]
        ),
        _row("first GetConfiguration received", ms["boot_answered_to_get_configuration"]),
        _row("StartTransaction → first profile acked", tx["no_profile_ms"]),
        "",
        f"Order: chargers with a configuration call and no failsafe before it "
        f"{order['config_before_failsafe']}, calls before the boot answer "
        f"{order['calls_before_boot_answered']}, "
        f"first call not a failsafe {order['first_call_not_failsafe']}; "
        f"{tx['started']} transactions, {tx['drew_with_no_profile']} drew with no profile "
        "sent on this connection.",
        "",
    ]


def _goal(r: dict[str, Any]) -> str:
    p99 = r["ms"]["boot_answered_to_failsafe_acked"].get("p99", float("inf"))
    met = p99 <= GOAL_MS and not r["missing"]["failsafe"]
    return f"p99 ≤ {GOAL_MS:g} ms: **{'met' if met else 'not met'}**"


def record(command: str, results: dict[str, Any], machine_note: str) -> None:
    r = results["storm"]
    ms, order, tx, server = r["ms"], r["order"], r["transactions"], r["server"]
    lines = [
        "# Boot storm benchmark (`bench/boot`)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_note} (shared with other work while it ran).",
        "",
        f"{r['chargers']} chargers on {r['sites']} site(s), every socket open first "
        f"({r['connect_all_s']} s), then each BootNotification at a uniformly random moment "
        f"of {r['window_s']:g} s; {r['booted_accepted']} answered Accepted.",
        "",
        "| from the boot answer (client clock) to | n | p50 ms | p95 ms | p99 ms | max ms | goal |",
        "|---|---|---|---|---|---|---|",
        _row(
            "failsafe acknowledged",
            ms["boot_answered_to_failsafe_acked"],
            _goal(r),
        ),
        _row("failsafe received", ms["boot_answered_to_failsafe_received"]),
        _row(
            "first live profile (stack level ≥ 1) acknowledged", ms["boot_answered_to_live_acked"]
        ),
        _row("first GetConfiguration received", ms["boot_answered_to_get_configuration"]),
        _row("(BootNotification sent → answered)", ms["boot_sent_to_boot_answered"]),
        "",
        f"Missing at the end: failsafe {r['missing']['failsafe']}, live profile "
        f"{r['missing']['live']}, GetConfiguration {r['missing']['get_configuration']}.",
        "",
        "Order (each must be 0):",
        "",
        f"- chargers with a GetConfiguration/ChangeConfiguration before their failsafe: "
        f"**{order['config_before_failsafe']}**",
        f"- chargers with any CALL before their BootNotification was answered: "
        f"**{order['calls_before_boot_answered']}** "
        f"(TriggerMessage(BootNotification) to a silent socket, allowed: "
        f"{order['trigger_boot_before_boot']})",
        f"- chargers whose first CALL was not their failsafe: {order['first_call_not_failsafe']}"
        + (f" (first calls seen: {r['not_failsafe_first']})" if r["not_failsafe_first"] else ""),
        "",
        f"Transactions: {tx['started']} started 1-3 s after their boot; "
        f"{tx['drew_with_no_profile']} drew current with no profile at all.",
        "",
        "| | n | p50 ms | p95 ms | p99 ms | max ms | |",
        "|---|---|---|---|---|---|---|",
        _row("StartTransaction → first profile acked (0: one was there)", tx["no_profile_ms"]),
        _row("StartTransaction → its TxProfile acked", tx["start_to_tx_profile_acked_ms"]),
        "",
        "## Server",
        "",
        f"CPU (core 0) during the window: {server['cpu_busy_during_storm'] * 100:.0f} % busy "
        f"on average, {server['cpu_busy_peak_1s'] * 100:.0f} % in the busiest second. "
        f"The fleet process (core 1): {server['fleet_process_cpu_s']} CPU-s in all.",
        f"{server['rounds_during_storm']} control-loop rounds during the window.",
        "",
        "| server side | n | p50 ms | p95 ms | p99 ms | max ms | |",
        "|---|---|---|---|---|---|---|",
        _row("boot answered (client) → charger.ready", server["boot_answered_to_ready_ms"]),
        _row(
            "charger.ready → its failsafe handed to its socket", server["ready_to_failsafe_sent_ms"]
        ),
        _row("failsafe sent → received (client)", server["failsafe_sent_to_received_ms"]),
        _row(
            "charger.ready → its failsafe's answer booked (the goal, server clock)",
            server["ready_to_failsafe_answer_booked_ms"],
        ),
        _row("round: start → end", server["round_ms"]),
        _row("round: start → snapshot loaded", server["round_load_ms"]),
        _row("round: loaded → planned", server["round_plan_ms"]),
        _row("failsafes sent per round", server["failsafes_per_round"]),
        "",
        *(reboot_lines(results["reboot"]) if results.get("reboot") else []),
        "Setup: the server stack (OCPP server + control loop + the app's other components, "
        "uvloop, `calm_gc()`, SQLite in a temp dir) in the bench process on core 0; the "
        "chargers (raw WebSockets + orjson, one process) on core 1; real sockets on "
        "127.0.0.1. Client stamps are taken as a frame is read or written; the server's "
        "on the same CLOCK_MONOTONIC.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    kept = RESULTS.read_text().partition(NOTES) if RESULTS.exists() else ("", "", "")
    RESULTS.write_text("\n".join(lines) + (kept[1] + kept[2] if kept[1] else ""))


def main() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the server on core 0; the chargers on core 1
    parser = argparse.ArgumentParser(prog="python -m bench.boot")
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--circuits", type=int, default=10, help="per site")
    parser.add_argument("--window", type=float, default=10.0, help="boots spread over (s)")
    parser.add_argument(
        "--transacting", type=float, default=0.5, help="share starting a transaction"
    )
    parser.add_argument("--tail", type=float, default=20.0, help="the most to wait after")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--reboot", action="store_true", help="then every charger drops and boots again"
    )
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--profile", type=Path, help="cProfile the server over the run, to FILE")
    parser.add_argument("--server-loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--gc", choices=["serve", "default"], default="serve")
    args = parser.parse_args()
    note = machine()
    run = uvloop.run if args.server_loop == "uvloop" else asyncio.run
    results = run(storm(args))  # the storm, and the reboot storm if asked
    print(json.dumps(results, indent=2), flush=True)
    if not args.no_record:
        record(" ".join([".venv/bin/python -m bench.boot", *sys.argv[1:]]), results, note)


if __name__ == "__main__":
    main()
