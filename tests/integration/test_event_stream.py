"""``GET /events/stream`` over a real socket: SSE frames from the bus, scoped per token."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvicorn

from chargegrid.app import build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork

DEADLINE_S = 10.0


async def wait_until(condition: Callable[[], bool], timeout_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
async def base_url(db: Database, bus: EventBus) -> AsyncIterator[str]:
    app = build_app(Settings(database_url=db.url), db=db, bus=bus)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def _token(db: Database, role: Role, sites: list[uuid.UUID] | None = None) -> str:
    async with UnitOfWork(db) as uow:
        return await create_token(uow, role, sites)


async def _next_data(lines: AsyncIterator[str]) -> dict[str, object]:
    async for line in lines:
        if line.startswith("data: "):
            data: dict[str, object] = json.loads(line[len("data: ") :])
            return data
    raise AssertionError("stream ended")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_events_reach_the_stream_filtered_by_site(
    base_url: str, db: Database, bus: EventBus
) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    async with UnitOfWork(db) as uow:
        from chargegrid.store.models import Site

        uow.sites.add(Site(id=mine, name="Mine", max_current=63))
        uow.sites.add(Site(id=other, name="Other", max_current=63))
        await uow.commit()
    token = await _token(db, Role.VIEWER, [mine])
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=DEADLINE_S) as client,
        client.stream("GET", "/api/v1/events/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        async with asyncio.timeout(DEADLINE_S):
            assert await anext(lines) == ": connected"
            # The subscription exists before the first frame is sent.
            assert bus.subscriber_count == 1
            bus.publish("config.changed", {"kind": "site", "site_id": str(other)})
            bus.publish("config.changed", {"kind": "site", "site_id": str(mine)})
            data = await _next_data(lines)
    assert data["topic"] == "config.changed" and data["site_id"] == str(mine)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_stream_needs_a_token(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=DEADLINE_S) as client:
        response = await client.get("/api/v1/events/stream")
    assert response.status_code == 401
