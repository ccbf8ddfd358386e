"""``python -m bench.cluster``: the cost of command routing between cluster nodes.

Two ``chargegrid serve --nats-url`` processes (the real CLI) on a fresh PostgreSQL
database and the local NATS; one charger (raw WebSocket, answers at once) connected to
node A. The same REST action (``POST /chargers/{id}/actions/data-transfer``) is sent
through node A, which holds the charger's socket, and through node B, which routes it
over NATS request/reply to A, alternately (so both see the same machine load), one at a
time. Reported: client-side latency p50/p90/p99 per path and the difference, which is
what routing adds (the charger's location from the node's mirror, one NATS round trip, the JSON
on both sides). Results to stdout and ``bench/results/cluster.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import websockets
from bench.load.__main__ import free_port, machine, percentile

from chargegrid.cluster.nats_link import NatsLink, NodeIdentity
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get(
    "CHARGEGRID_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NATS_URL = os.environ.get("CHARGEGRID_BENCH_NATS_URL", "nats://127.0.0.1:4222")
RESULTS = Path(__file__).resolve().parent.parent / "results" / "cluster.md"


async def pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def start_node(node_id: str, cluster: str, url: str, logs: Path) -> tuple[Any, str, int]:
    port, ocpp_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        str(BIN / "chargegrid"),
        "serve",
        "--port",
        str(port),
        "--ocpp-port",
        str(ocpp_port),
        "--database-url",
        url,
        "--nats-url",
        NATS_URL,
        "--node-id",
        node_id,
        stdout=(logs / f"{node_id}.log").open("ab"),
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "CHARGEGRID_RATE_LIMIT": "0",
            "CHARGEGRID_CLUSTER_NAME": cluster,
            "CHARGEGRID_LOG_LEVEL": "warning",
        },
    )
    api = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 60
        while True:
            if process.returncode is not None:
                raise SystemExit(f"node {node_id} exited; see {logs}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(api + "/readyz")).status_code == 200:
                    return process, api, ocpp_port
            if time.monotonic() > deadline:
                raise SystemExit(f"node {node_id} not ready in 60 s; see {logs}")
            await asyncio.sleep(0.1)


async def charger(ocpp_port: int, ocpp_id: str, booted: asyncio.Event) -> None:
    """Boots, then answers every CALL at once (DataTransfer echoes its data)."""
    url = f"ws://127.0.0.1:{ocpp_port}/ocpp/{ocpp_id}"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        boot = {"chargePointVendor": "Bench", "chargePointModel": "Router"}
        await ws.send(orjson.dumps([2, "boot", "BootNotification", boot]).decode())
        async for raw in ws:
            message = orjson.loads(raw)
            if message[0] == 3 and message[1] == "boot":
                booted.set()
            elif message[0] == 2:
                action, payload = message[2], message[3]
                answer: dict[str, Any] = {"status": "Accepted"}
                if action == "DataTransfer":
                    answer["data"] = payload.get("data", "")
                elif action == "GetConfiguration":
                    answer = {"configurationKey": []}
                await ws.send(orjson.dumps([3, message[1], answer]).decode())


async def run(requests: int, warmup: int) -> dict[str, Any]:
    database = f"cg_bench_cluster_{secrets.token_hex(4)}"
    cluster = "bench" + secrets.token_hex(4)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    await pg(f'CREATE DATABASE "{database}"')
    logs = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    processes = []
    try:
        a = await start_node("a", cluster, url, logs)
        processes.append(a[0])
        b = await start_node("b", cluster, url, logs)
        processes.append(b[0])
        db = Database(url)
        async with UnitOfWork(db) as uow:
            token = await create_token(uow, Role.ADMIN)
        await db.dispose()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            site = (
                await client.post(a[1] + "/api/v1/sites", json={"name": "B", "max_current": 63})
            ).json()
            ocpp_id = f"BENCH-{uuid.uuid4().hex[:6]}"
            body = {"ocpp_id": ocpp_id, "site_id": site["id"]}
            charger_id = (await client.post(a[1] + "/api/v1/chargers", json=body)).json()["id"]
            booted = asyncio.Event()
            task = asyncio.create_task(charger(a[2], ocpp_id, booted))
            await asyncio.wait_for(booted.wait(), 20)
            await asyncio.sleep(2)  # its post-boot exchange is over
            paths = {"holder (A)": a[1], "routed (B -> A)": b[1]}
            times: dict[str, list[float]] = {name: [] for name in paths}
            for i in range(warmup + requests):
                for name, api in paths.items():
                    action = f"{api}/api/v1/chargers/{charger_id}/actions/data-transfer"
                    started = time.perf_counter()
                    answer = await client.post(action, json={"vendor_id": "b", "data": str(i)})
                    took = time.perf_counter() - started
                    if answer.status_code != 200 or answer.json().get("data") != str(i):
                        raise SystemExit(f"{name}: {answer.status_code} {answer.text}")
                    if i >= warmup:
                        times[name].append(took * 1000)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return {
            name: {
                "p50": percentile(values, 50),
                "p90": percentile(values, 90),
                "p99": percentile(values, 99),
                "mean": sum(values) / len(values),
            }
            for name, values in times.items()
        }
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
        link = await NatsLink.connect(NATS_URL, NodeIdentity("bench", "", "", _now()), cluster)
        for bucket in ("nodes", "chargers", "leases"):
            await link.drop_bucket(bucket)
        await link.close()
        await pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


class _Instant:
    """A node's own OCPP gateway holding one charger that answers at once."""

    def __init__(self, ocpp_id: str) -> None:
        self.ocpp_id = ocpp_id

    def is_connected(self, ocpp_id: str) -> bool:
        return ocpp_id == self.ocpp_id

    async def send(self, ocpp_id: str, action: str, payload: Any, timeout: float) -> Any:  # noqa: ASYNC109
        return {"status": "Accepted", "data": payload.get("data")}


async def micro(requests: int) -> dict[str, float]:
    """Routing alone, in this process: node B's RoutedGateway sends to node A's, whose
    charger answers at once (no HTTP, no database): a mirror lookup, one request/reply."""
    from chargegrid import events as ev
    from chargegrid.bus.memory import EventBus
    from chargegrid.cluster.locations import ChargerLocations
    from chargegrid.cluster.routing import RoutedGateway

    cluster = "bench" + secrets.token_hex(4)
    links = [
        await NatsLink.connect(NATS_URL, NodeIdentity(n, "", "", _now()), cluster) for n in "ab"
    ]
    buses = [EventBus(), EventBus()]
    held = _Instant("CP-MICRO")
    a = ChargerLocations(links[0], buses[0], held.is_connected)
    b = ChargerLocations(links[1], buses[1], lambda _: False)
    try:
        await a.start()
        await b.start()
        buses[0].publish(ev.CHARGER_CONNECTED, {"charger_id": "x", "ocpp_id": "CP-MICRO"})
        for _ in range(500):  # its entry written (a few ms)
            if a.epoch_of("CP-MICRO") is not None:
                break
            await asyncio.sleep(0.01)
        else:
            raise SystemExit("micro: the charger's location was never written")
        holder = RoutedGateway(links[0], held, a)  # type: ignore[arg-type]
        router = RoutedGateway(links[1], _Instant("nobody"), b)  # type: ignore[arg-type]
        await holder.listen()
        times = []
        for i in range(requests + 100):
            started = time.perf_counter()
            answer = await router.send("CP-MICRO", "DataTransfer", {"data": str(i)}, 5)
            if answer.get("data") != str(i):
                raise SystemExit(f"micro: wrong answer {answer}")
            if i >= 100:
                times.append((time.perf_counter() - started) * 1000)
        await holder.close()
        return {q: percentile(times, float(q[1:])) for q in ("p50", "p90", "p99")}
    finally:
        await a.stop()
        await b.stop()
        await links[0].drop_bucket("chargers")
        for link in links:
            await link.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def report(
    command: str, requests: int, where: str, results: dict[str, Any], alone: dict[str, float]
) -> str:
    holder, routed = results["holder (A)"], results["routed (B -> A)"]
    lines = [
        "# Cluster command routing (`bench/cluster`)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {where}",
        "",
        f"{requests} REST actions per path (`POST /chargers/{{id}}/actions/data-transfer`),",
        "one at a time, the two paths alternating; client-side latency in ms. Two",
        "`chargegrid serve --nats-url` processes on PostgreSQL and the local NATS; the",
        "charger (raw WebSocket, answers at once) on node A.",
        "",
        "| path | p50 | p90 | p99 | mean |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['mean']:.2f} |"
        )
    lines += [
        "",
        f"Routing adds {routed['p50'] - holder['p50']:.2f} ms at p50 and "
        f"{routed['p99'] - holder['p99']:.2f} ms at p99.",
        "",
        "Routing alone (in one process: node B's routed gateway to node A's, whose charger",
        "answers at once; the location from the mirror and one NATS request/reply, no HTTP,",
        f"no database), {requests * 4} commands one at a time: p50 {alone['p50']:.3f} ms, "
        f"p90 {alone['p90']:.3f} ms, p99 {alone['p99']:.3f} ms.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    where = machine()
    results = asyncio.run(run(args.requests, args.warmup))
    alone = asyncio.run(micro(args.requests * 4))
    command = "python -m bench.cluster " + " ".join(sys.argv[1:])
    text = report(command.strip(), args.requests, where, results, alone)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
