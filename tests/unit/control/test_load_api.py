"""``GET /sites/{id}/load``, its SSE stream and ``/metrics`` over the real app, with the
control loop running against a fake OCPP gateway."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegrid.api.routers.load import _stream
from chargegrid.app import Runtime, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.control.component import control_loop
from chargegrid.control.loop import LOAD_CHANGED, ControlLoop
from chargegrid.services.auth import Role, create_token
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork

from .fakes import FakeGateway

API = "/api/v1"


@dataclass
class Env:
    client: httpx.AsyncClient
    db: Database
    bus: EventBus
    gateway: FakeGateway
    loop: ControlLoop
    admin: dict[str, str]

    async def headers(self, role: str, sites: list[uuid.UUID] | None = None) -> dict[str, str]:
        async with UnitOfWork(self.db) as uow:
            token = await create_token(uow, Role(role), sites)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    await upgrade(db.engine)
    bus = EventBus()
    settings = Settings(database_url=db.url)
    runtime = Runtime(settings, db, bus)
    gateway = FakeGateway()
    runtime.handles["ocpp_gateway"] = gateway
    app = build_app(settings, runtime=runtime)
    async with (
        control_loop(runtime) as loop,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        env = Env(client, db, bus, gateway, loop, {})
        env.admin = await env.headers("admin")
        yield env
    await db.dispose()


async def make_site(env: Env) -> tuple[str, str]:
    """A 32 A site with one 3-phase charger, online, with a running session."""
    c = env.client
    site = await c.post(f"{API}/sites", json={"name": "S", "max_current": 32}, headers=env.admin)
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    # Charger rows straight into the store: this test is about the load API.
    async with env.db.session() as s:
        row = m.Charger(site_id=uuid.UUID(site_id), ocpp_id="CP-API", online=True)
        s.add(row)
        await s.flush()
        evse = m.Evse(charger_id=row.id, evse_number=1)
        s.add(evse)
        await s.flush()
        s.add(m.Connector(evse_id=evse.id, charger_id=row.id, connector_id=1))
        s.add(
            m.ChargingSession(
                charger_id=row.id,
                evse_number=1,
                connector_id=1,
                transaction_id=5,
                started_at=datetime.now(UTC),
            )
        )
        charger_id = str(row.id)
    env.bus.publish("session.started", {"charger_id": charger_id, "site_id": site_id})
    await env.loop.settle()
    return site_id, charger_id


async def test_load_view_follows_a_patch(env: Env) -> None:
    site_id, charger_id = await make_site(env)
    response = await env.client.get(f"{API}/sites/{site_id}/load", headers=env.admin)
    assert response.status_code == 200
    body = response.json()
    assert body["site_id"] == site_id
    (node,) = body["nodes"]
    assert node["kind"] == "site" and node["parent_id"] is None
    assert node["phases"]["l1"]["limit"] == 32.0
    (session,) = body["sessions"]
    assert session["charger_id"] == charger_id
    assert session["limit"] == 32.0
    assert session["grid_phases"] == ["l1", "l2", "l3"]
    assert session["measured"] == {"l1": None, "l2": None, "l3": None}
    assert session["reason"]

    patch = await env.client.patch(
        f"{API}/sites/{site_id}", json={"available_current": 10}, headers=env.admin
    )
    assert patch.status_code == 200, patch.text
    await env.loop.settle()
    assert env.gateway.limits_for("CP-API")[-1] == 10.0
    body = (await env.client.get(f"{API}/sites/{site_id}/load", headers=env.admin)).json()
    assert body["nodes"][0]["phases"]["l2"]["limit"] == 10.0
    assert body["sessions"][0]["limit"] == 10.0


async def test_errors_are_problems(env: Env) -> None:
    site_id, _ = await make_site(env)
    missing = await env.client.get(f"{API}/sites/{uuid.uuid4()}/load", headers=env.admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad = await env.client.get(f"{API}/sites/not-a-uuid/load", headers=env.admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert (await env.client.get(f"{API}/sites/{site_id}/load")).status_code == 401
    elsewhere = await env.client.post(
        f"{API}/sites", json={"name": "Elsewhere", "max_current": 16}, headers=env.admin
    )
    other = await env.headers("viewer", [uuid.UUID(elsewhere.json()["id"])])
    assert (await env.client.get(f"{API}/sites/{site_id}/load", headers=other)).status_code == 404
    mine = await env.headers("viewer", [uuid.UUID(site_id)])
    assert (await env.client.get(f"{API}/sites/{site_id}/load", headers=mine)).status_code == 200


async def test_stream_sends_the_view_then_each_change_of_its_site(env: Env) -> None:
    site_id, _ = await make_site(env)
    first: dict[str, Any] = {"site_id": site_id, "nodes": [], "sessions": []}
    subscription = env.bus.subscribe(LOAD_CHANGED)
    frames = _stream(first, env.bus, site_id, subscription)
    assert (
        await anext(frames) == f"event: load\ndata: {json.dumps(first, separators=(',', ':'))}\n\n"
    )
    env.bus.publish(LOAD_CHANGED, {"site_id": str(uuid.uuid4()), "other": True})
    env.bus.publish(LOAD_CHANGED, {"site_id": site_id, "n": 2})
    frame = await anext(frames)
    assert frame.startswith("event: load\ndata: ")
    assert json.loads(frame.removeprefix("event: load\ndata: ")) == {"site_id": site_id, "n": 2}
    await frames.aclose()
    assert subscription.closed


async def test_metrics_count_rebalances_and_profiles(env: Env) -> None:
    await make_site(env)
    text = (await env.client.get("/metrics")).text
    assert "chargegrid_rebalances_total" in text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith('chargegrid_charging_profiles_total{kind="reduction",outcome="accepted"}')
    )
    assert float(line.split()[-1]) >= 1
