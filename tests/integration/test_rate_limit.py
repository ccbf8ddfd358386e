"""429 over a real server (uvicorn on 127.0.0.1) with a low configured rate.

The limiter is in memory and the same on every database, so these run on SQLite only.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from chargegrid.app import API_PREFIX, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.services.rate_limit import RateLimiter, retry_after_seconds
from chargegrid.sim.charger import ChargerSpec
from chargegrid.sim.registration import register_fleet
from chargegrid.store.db import Database
from chargegrid.store.models import Site
from chargegrid.store.uow import UnitOfWork

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

DEADLINE_S = 10.0
# No refill worth speaking of within a test: only the burst counts.
NO_REFILL = 0.001


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail after the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


class CountingLimiter(RateLimiter):
    refused = 0

    def take(self, key: str) -> float:
        wait_s = super().take(key)
        if wait_s > 0:
            self.refused += 1
        return wait_s


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def serving(
    settings: Settings, db: Database, bus: EventBus, limiter: RateLimiter | None = None
) -> AsyncIterator[str]:
    """The app on a free port; ``limiter`` replaces the one ``settings`` configure."""
    app = build_app(settings, db=db, bus=bus)
    if limiter is not None:
        app.state.rate_limiter = limiter
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}{API_PREFIX}"
    finally:
        server.should_exit = True
        await task


async def token(db: Database) -> dict[str, str]:
    async with UnitOfWork(db) as uow:
        return {"Authorization": f"Bearer {await create_token(uow, Role.ADMIN)}"}


def assert_rate_limited(response: httpx.Response) -> int:
    """A problem+json 429 with a whole-second Retry-After >= 1; returns that value."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    return int(retry_after)


async def test_a_token_past_its_burst_gets_429_then_gets_in_after_retry_after(
    db: Database, bus: EventBus
) -> None:
    settings = Settings(database_url=db.url)
    headers = await token(db)
    clock = FakeClock()
    limiter = RateLimiter(0.4, 3, clock=clock)
    async with (
        serving(settings, db, bus, limiter) as base,
        httpx.AsyncClient(base_url=base, headers=headers, timeout=DEADLINE_S) as client,
    ):
        for _ in range(3):
            assert (await client.get("/sites")).status_code == 200
        # At 0.4 tokens a second the next is due in 2.5 s: rounded up to 3.
        assert assert_rate_limited(await client.get("/sites")) == 3
        clock.now += 2.0
        assert assert_rate_limited(await client.get("/sites")) == 1  # 0.5 s to go
        clock.now += 0.5
        assert (await client.get("/sites")).status_code == 200
        assert_rate_limited(await client.get("/sites"))


async def test_tokens_are_limited_apart(db: Database, bus: EventBus) -> None:
    settings = Settings(database_url=db.url, rate_limit=NO_REFILL, rate_burst=2)
    first, second = await token(db), await token(db)
    async with serving(settings, db, bus) as base, httpx.AsyncClient(base_url=base) as client:
        codes = [(await client.get("/sites", headers=first)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # A valid token costs its address nothing, on first sight or after.
        assert (await client.get("/sites", headers=second)).status_code == 200


async def test_unauthenticated_requests_are_limited_by_address(db: Database, bus: EventBus) -> None:
    settings = Settings(database_url=db.url, rate_limit=NO_REFILL, rate_burst=3)
    known = await token(db)
    async with serving(settings, db, bus) as base, httpx.AsyncClient(base_url=base) as client:
        # Only failed authentications count against the address (burst 3).
        assert (await client.get("/sites", headers=known)).status_code == 200
        guesses = {"Authorization": "Bearer cg_guessed"}
        assert (await client.get("/sites")).status_code == 401
        assert (await client.get("/sites", headers=guesses)).status_code == 401
        assert (await client.get("/sites", headers=guesses)).status_code == 401
        assert_rate_limited(await client.get("/sites", headers=guesses))
        assert_rate_limited(await client.get("/sites"))
        # A token already authenticated has its own bucket, untouched by the guessing.
        assert (await client.get("/sites", headers=known)).status_code == 200


async def test_a_stream_costs_only_the_request_that_opened_it(db: Database, bus: EventBus) -> None:
    settings = Settings(database_url=db.url, rate_limit=NO_REFILL, rate_burst=3)
    headers = await token(db)
    async with (
        serving(settings, db, bus) as base,
        httpx.AsyncClient(base_url=base, headers=headers, timeout=DEADLINE_S) as client,
        client.stream("GET", "/events/stream") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        async with asyncio.timeout(DEADLINE_S):
            assert await anext(lines) == ": connected"
            for n in range(5):
                bus.publish("config.changed", {"kind": "site", "n": n})
            received = 0
            while received < 5:
                line = await anext(lines)
                if line.startswith("data: "):
                    assert json.loads(line[len("data: ") :])["n"] == received
                    received += 1
        # Five events later the stream still holds one of the three tokens, no more.
        assert (await client.get("/sites")).status_code == 200
        assert (await client.get("/sites")).status_code == 200
        assert_rate_limited(await client.get("/sites"))


async def test_zero_turns_the_limit_off(db: Database, bus: EventBus) -> None:
    settings = Settings(database_url=db.url, rate_limit=0, rate_burst=1)
    headers = await token(db)
    async with (
        serving(settings, db, bus) as base,
        httpx.AsyncClient(base_url=base, headers=headers, timeout=DEADLINE_S) as client,
    ):
        codes = {(await client.get("/sites")).status_code for _ in range(20)}
    assert codes == {200}


async def test_openapi_documents_429_with_retry_after_everywhere(db: Database) -> None:
    document = build_app(Settings(database_url=db.url), db=db).openapi()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    for path, method, operation in operations:
        documented = operation["responses"].get("429")
        assert documented is not None, (method, path)
        assert "application/problem+json" in documented["content"], (method, path)
        assert documented["headers"]["Retry-After"]["required"] is True, (method, path)


class WaitedOutClock:
    """A limiter clock that stands still while the client sends (how fast this machine
    sends makes no difference) and moves on by a full refill only once the client has
    really waited out the Retry-After of its last refusal: a client that retried sooner
    would be refused again and again."""

    def __init__(self, refill_s: float) -> None:
        self.now = 0.0
        self.refill_s = refill_s
        self.refused_at: float | None = None
        self.retry_after_s = 0.0

    def refused(self, wait_s: float) -> None:
        if self.refused_at is None:
            self.refused_at = time.monotonic()
            self.retry_after_s = retry_after_seconds(wait_s)

    def __call__(self) -> float:
        # 20 ms of slack: asyncio may wake a sleeper a clock tick early.
        waited = self.refused_at is not None and (
            time.monotonic() - self.refused_at >= self.retry_after_s - 0.02
        )
        if waited:
            self.now += self.refill_s
            self.refused_at = None
        return self.now


class WaitedOutLimiter(CountingLimiter):
    def __init__(self, rate: float, burst: int) -> None:
        self.waited_out = WaitedOutClock(refill_s=burst / rate)
        super().__init__(rate, burst, clock=self.waited_out)

    def take(self, key: str) -> float:
        wait_s = super().take(key)
        if wait_s > 0:
            self.waited_out.refused(wait_s)
        return wait_s


async def test_simulator_registration_waits_out_the_limit(db: Database, bus: EventBus) -> None:
    site_id = uuid.uuid4()
    async with UnitOfWork(db) as uow:
        uow.sites.add(Site(id=site_id, name="Fleet", max_current=63))
        await uow.commit()
    async with UnitOfWork(db) as uow:
        secret = await create_token(uow, Role.ADMIN)
    specs = [ChargerSpec(ocpp_id=f"SIM-{n}") for n in range(12)]
    # A burst of 5 at 1 request/s on a clock that moves only once a refusal was waited
    # out (1 s each): refusals do not depend on how fast this machine is (at 20/s on the
    # real clock a loaded CI machine sent the 14 POSTs slower than the refill and none
    # was refused), and the run waits 2 s rather than the 9 s of a real 1/s refill.
    limiter = WaitedOutLimiter(1, 5)
    async with serving(Settings(database_url=db.url), db, bus, limiter) as base:
        # 14 POSTs against a burst of 5: POST 6 and 11 are refused, each retried once
        # after its Retry-After (a client that retried sooner is refused again).
        started = time.monotonic()
        created = await register_fleet(base, secret, specs, ["TAG-1", "TAG-2"], str(site_id))
        took_s = time.monotonic() - started
    assert limiter.refused == 2
    assert took_s >= 2 * 1.0 - 0.05  # both Retry-After waits really happened
    assert created == len(specs)
    async with UnitOfWork(db) as uow:
        registered = {c.ocpp_id for c in await uow.chargers.for_site(site_id)}
    assert registered == {s.ocpp_id for s in specs}
