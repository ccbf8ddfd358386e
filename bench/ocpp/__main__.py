"""Run the OCPP benchmark: baseline and ours side by side, then memory per connection.

    .venv/bin/python -m bench.ocpp [--clients 200] [--seconds 10] [--idle 5000]

The server under test is pinned to CPU 0 and the load generators to the other CPUs
(taskset), so "per second" means per server core. Results go to stdout as JSON and to
bench/results/ocpp/*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path("bench/results/ocpp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpus: str, argv: list[str]) -> list[str]:
    return (["taskset", "-c", cpus] if shutil.which("taskset") else []) + argv


def start_server(
    kind: str, port: int, loop: str | None = None, extra: list[str] | None = None
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bench.ocpp.server", kind, "--port", str(port)]
    proc = subprocess.Popen(
        pinned("0", argv + (["--loop", loop] if loop else []) + (extra or [])),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "READY" not in line:
        proc.kill()
        raise RuntimeError(f"{kind} server did not start: {line!r}")
    return proc


def stop(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Stop the server; its group-commit statistics (and thread names) if it printed any."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {}
    stats: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("STATS"):
            pairs = dict(item.split("=") for item in line.split()[1:])
            commits, writes = int(pairs["commits"]), int(pairs["writes"])
            stats["commits"] = commits
            stats["writes_per_commit"] = round(writes / max(commits, 1), 1)
        elif line.startswith("THREADS"):  # native thread id -> name (bench.ocpp201)
            stats["threads"] = dict(item.split("=", 1) for item in line.split()[1:])
    return stats


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def client_cpus() -> str:
    n = os.cpu_count() or 1
    return ",".join(str(c) for c in range(1, n)) if n > 1 else "0"


def throughput(
    kind: str,
    args: argparse.Namespace,
    protocol: str = "1.6",
    server_args: list[str] | None = None,
    during_window: Callable[[int], AbstractContextManager[object]] | None = None,
) -> dict[str, Any]:
    """CALL -> CALLRESULT per second against a fresh ``kind`` server; ``protocol`` is the
    OCPP version the load generators speak. ``during_window(server_pid)``, if given, is
    entered for the measured window only (per-thread CPU, a profiler in the server)."""
    port = free_port()
    server = start_server(kind, port, args.server_loop, server_args)
    try:
        per = args.clients // args.client_procs
        clients = [
            subprocess.Popen(
                pinned(
                    client_cpus(),
                    [
                        sys.executable,
                        "-m",
                        "bench.ocpp.load",
                        "throughput",
                        "--url",
                        f"ws://127.0.0.1:{port}/ocpp",
                        "--clients",
                        str(per),
                        "--first",
                        str(i * per),
                        "--seconds",
                        str(args.seconds),
                        "--warmup",
                        str(args.warmup),
                        "--protocol",
                        protocol,
                    ],
                ),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(args.client_procs)
        ]
        # Server CPU over the measured window only: under a shared machine "calls per
        # CPU-second" is what one core of ours does, whatever else competes for it.
        process = psutil.Process(server.pid)
        loaders = [psutil.Process(c.pid) for c in clients]
        time.sleep(args.warmup)
        cpu_start = _cpu(process)
        load_start = sum(_cpu(p) for p in loaders)
        window = during_window(server.pid) if during_window else contextlib.nullcontext()
        with window:
            time.sleep(args.seconds)
        cpu_end = _cpu(process)
        load_cpu = sum(_cpu(p) for p in loaders) - load_start
        reports = [json.loads(c.communicate()[0].strip().splitlines()[-1]) for c in clients]
    finally:
        stats = stop(server)
    calls = sum(r["calls_in_window"] for r in reports)
    cpu = cpu_end - cpu_start
    return {
        "kind": kind,
        "protocol": protocol,
        "clients": per * args.client_procs,
        "calls_per_s": round(calls / args.seconds),
        "errors": sum(r["errors"] for r in reports),
        "failed_clients": sum(r["failed_clients"] for r in reports),
        "p50_ms": round(max(r["p50_ms"] for r in reports), 2),
        "p99_ms": round(max(r["p99_ms"] for r in reports), 2),
        "server_cpu_s_in_window": round(cpu, 2),
        "calls_per_server_cpu_s": round(calls / cpu) if cpu > 0 else None,
        "load_generator_cpu_s_in_window": round(load_cpu, 2),
        "group_commit": {k: v for k, v in stats.items() if k != "threads"},
        **({"thread_names": stats["threads"]} if "threads" in stats else {}),
        "failure_sample": [f for r in reports for f in r["failure_sample"]][:3],
    }


def open_idle(port: int, first: int, n: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        pinned(
            client_cpus(),
            [
                sys.executable,
                "-m",
                "bench.ocpp.load",
                "idle",
                "--url",
                f"ws://127.0.0.1:{port}/ocpp",
                "--clients",
                str(n),
                "--first",
                str(first),
            ],
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    report = json.loads(proc.stdout.readline())
    if report["connected"] != n:
        raise RuntimeError(f"only {report['connected']} of {n} connected")
    return proc


def memory(kind: str, n: int) -> dict[str, Any]:
    port = free_port()
    server = start_server(kind, port)
    process = psutil.Process(server.pid)
    try:
        warm = open_idle(port, 0, 100)  # first connections allocate one-off caches
        before = process.memory_info().rss
        started = time.monotonic()
        idle = open_idle(port, 100, n)
        connect_s = time.monotonic() - started
        after = process.memory_info().rss
        for proc in (warm, idle):
            proc.communicate("\n", timeout=60)
    finally:
        stop(server)
    return {
        "kind": kind,
        "connections": n,
        "rss_delta_mib": round((after - before) / 2**20, 1),
        "kib_per_connection": round((after - before) / n / 1024, 1),
        "connect_and_boot_s": round(connect_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--kinds", default="baseline,ours-nostore,ours")
    parser.add_argument("--only", choices=("throughput", "memory"), default=None)
    parser.add_argument(
        "--server-loop",
        choices=("asyncio", "uvloop"),
        default=None,
        help="force the servers' event loop (default: each kind's own, see bench.ocpp.server)",
    )
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m bench.ocpp", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg(),
        },
    }
    if args.only != "memory":
        results["throughput"] = [throughput(kind, args) for kind in kinds]
    if args.only != "throughput":
        results["memory"] = [memory(kind, args.idle) for kind in kinds]
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"ocpp-{args.only or 'all'}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
