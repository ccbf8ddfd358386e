"""``python -m bench.api [--database-url URL] [--seconds S] [--concurrency C]``

Serves the REST API with uvicorn on 127.0.0.1 (one process, one event loop, as
``chargegrid serve`` does; the load generator shares that process, so the numbers are a
floor) against a fresh database with 20 sites x 10 chargers, then measures for each
request kind: requests per second and p50/p99 latency at a given concurrency. The write
path (PATCH a site's available current) includes validation, the commit and the
``config.changed`` publication; "PATCH -> event" is the delay until a bus subscriber
holds that event, which is what starts a rebalance.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvicorn

from chargegrid.app import build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.models import Charger, Site
from chargegrid.store.uow import UnitOfWork

SITES, CHARGERS_PER_SITE = 20, 10


async def seed(db: Database) -> tuple[str, list[str]]:
    async with UnitOfWork(db) as uow:
        sites = [Site(name=f"Site {i}", max_current=63.0) for i in range(SITES)]
        uow.session.add_all(sites)
        await uow.session.flush()
        uow.session.add_all(
            Charger(site_id=s.id, ocpp_id=f"CP-{i}-{j}")
            for i, s in enumerate(sites)
            for j in range(CHARGERS_PER_SITE)
        )
        await uow.commit()
        site_ids = [str(s.id) for s in sites]
    async with UnitOfWork(db) as uow:
        return await create_token(uow, Role.ADMIN), site_ids


async def started(server: uvicorn.Server, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if server.started:
                return
            await asyncio.sleep(0.01)


async def measure(
    name: str, call: Callable[[int], Awaitable[httpx.Response]], seconds: float, concurrency: int
) -> str:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            start = time.perf_counter()
            response = await call(counter)
            latencies.append(time.perf_counter() - start)
            assert response.status_code < 300, response.text

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100)
    return f"| {name} | {len(latencies) / elapsed:,.0f} | {q[49] * 1000:.1f} | {q[98] * 1000:.1f} |"


async def event_delay(client: httpx.AsyncClient, bus: EventBus, site_id: str, n: int) -> str:
    delays: list[float] = []
    with bus.subscribe("config.changed") as events:
        for i in range(n):
            start = time.perf_counter()
            await client.patch(f"/api/v1/sites/{site_id}", json={"available_current": 10 + i % 40})
            event = await events.get()
            assert event.payload["site_id"] == site_id
            delays.append(time.perf_counter() - start)
    q = statistics.quantiles(delays, n=100)
    return f"| PATCH -> config.changed (sequential) | - | {q[49] * 1000:.1f} | {q[98] * 1000:.1f} |"


async def run(url: str | None, seconds: float, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        db, bus = Database(url), EventBus()
        await upgrade(db.engine)
        token, site_ids = await seed(db)
        # Rate limit off: one token sends far more than the default 20/s here, and what is
        # measured is the request path, not the limit.
        app = build_app(Settings(database_url=url, rate_limit=0), db=db, bus=bus)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        await started(server)
        port = server.servers[0].sockets[0].getsockname()[1]
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits
        ) as client:
            rows = [
                await measure(
                    "GET /sites/{id}",
                    lambda i: client.get(f"/api/v1/sites/{site_ids[i % SITES]}"),
                    seconds,
                    concurrency,
                ),
                await measure(
                    "GET /chargers?site_id= (10 chargers)",
                    lambda i: client.get(
                        "/api/v1/chargers", params={"site_id": site_ids[i % SITES]}
                    ),
                    seconds,
                    concurrency,
                ),
                await measure(
                    "PATCH /sites/{id} available_current",
                    lambda i: client.patch(
                        f"/api/v1/sites/{site_ids[i % SITES]}",
                        json={"available_current": 10 + i % 40},
                    ),
                    seconds,
                    concurrency,
                ),
                await event_delay(client, bus, site_ids[0], 200),
            ]
        server.should_exit = True
        await serving
        await db.dispose()
    backend = url.split(":", 1)[0]
    print(f"backend {backend}, concurrency {concurrency}, {seconds:g} s per row")
    print("| request | req/s | p50 ms | p99 ms |\n|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
