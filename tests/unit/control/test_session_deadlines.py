"""A session's deadline through the real app and control loop (fake OCPP gateway):
``PATCH /sessions/{id}`` (validation, roles, audit), id tag defaults and a prediction
filled in at the start, and what reaches the load manager's Demand and ``/load``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chargegrid import events as ev
from chargegrid.app import Runtime, build_app
from chargegrid.balancing import Demand
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.control.component import control_loop
from chargegrid.control.loop import ControlLoop
from chargegrid.control.problem import energy_still_wanted
from chargegrid.control.snapshot import SessionSpec
from chargegrid.services.auth import Role, create_token
from chargegrid.services.deadline_component import deadline_inputs
from chargegrid.services.deadlines import DeadlineInputs
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork

from .fakes import FakeGateway

API = "/api/v1"
ZONE = ZoneInfo("Europe/Oslo")


@dataclass
class Env:
    client: httpx.AsyncClient
    db: Database
    bus: EventBus
    loop: ControlLoop
    inputs: DeadlineInputs
    tokens: dict[tuple[str, str | None], str]

    async def call(
        self, method: str, path: str, body: Any = None, role: str = "admin", site: str | None = None
    ) -> httpx.Response:
        key = (role, site)
        if key not in self.tokens:
            async with UnitOfWork(self.db) as uow:
                sites = [uuid.UUID(site)] if site else None
                self.tokens[key] = await create_token(uow, Role(role), sites)
        headers = {"Authorization": f"Bearer {self.tokens[key]}"}
        return await self.client.request(method, API + path, json=body, headers=headers)

    def demand(self, site_id: str, session_id: str) -> Demand:
        built = self.loop._sites[site_id].built  # the problem the last round solved
        assert built is not None
        (found,) = [d for d in built.problem.demands if d.session_id == session_id]
        return found

    async def load_session(self, site_id: str) -> dict[str, Any]:
        response = await self.call("GET", f"/sites/{site_id}/load")
        assert response.status_code == 200, response.text
        (session,) = response.json()["sessions"]
        assert isinstance(session, dict)
        return session


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    await upgrade(db.engine)
    bus = EventBus()
    settings = Settings(database_url=db.url)
    runtime = Runtime(settings, db, bus)
    runtime.handles["ocpp_gateway"] = FakeGateway()
    app = build_app(settings, runtime=runtime)
    async with (
        deadline_inputs(runtime) as inputs,
        control_loop(runtime) as loop,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield Env(client, db, bus, loop, inputs, {})
    await db.dispose()


async def _site(env: Env, timezone: str = "UTC") -> tuple[str, uuid.UUID]:
    site = await env.call("POST", "/sites", {"name": "S", "max_current": 32, "timezone": timezone})
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    async with env.db.session() as s:
        row = m.Charger(site_id=uuid.UUID(site_id), ocpp_id=f"CP-{site_id[:6]}", online=True)
        s.add(row)
        await s.flush()
        evse = m.Evse(charger_id=row.id, evse_number=1)
        s.add(evse)
        await s.flush()
        s.add(m.Connector(evse_id=evse.id, charger_id=row.id, connector_id=1))
        return site_id, row.id


async def _start(env: Env, charger_id: uuid.UUID, tag: str | None, started: datetime) -> str:
    """A session as the OCPP server records it, then its session.started."""
    async with env.db.session() as s:
        row = m.ChargingSession(
            charger_id=charger_id,
            evse_number=1,
            connector_id=1,
            transaction_id=None,
            id_tag=tag,
            started_at=started,
        )
        s.add(row)
        await s.flush()
        session_id = str(row.id)
    started_event: dict[str, Any] = {"session_id": session_id, "charger_id": str(charger_id)}
    with env.bus.subscribe(ev.SESSION_UPDATED) as updates:
        env.bus.publish(ev.SESSION_STARTED, started_event)
        if tag is not None:
            await _until(updates, lambda p: p.get("session_id") == session_id)
    await env.loop.settle()
    return session_id


async def _until(updates: Any, wanted: Any) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            event = await updates.get()
            if wanted(event.payload):
                payload: dict[str, Any] = event.payload
                return payload


async def test_patch_sets_the_deadline_the_load_manager_plans_with(env: Env) -> None:
    site_id, charger_id = await _site(env)
    session_id = await _start(env, charger_id, None, datetime.now(UTC))
    assert env.demand(site_id, session_id).departure_at is None
    leaves = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    with env.bus.subscribe(ev.SESSION_UPDATED) as updates:
        response = await env.call(
            "PATCH",
            f"/sessions/{session_id}",
            {"departure_at": leaves.isoformat(), "energy_wanted_wh": 20000},
            role="owner",
            site=site_id,
        )
        assert response.status_code == 200, response.text
        event = await _until(updates, lambda p: p.get("deadline") is True)
    body = response.json()
    assert datetime.fromisoformat(body["departure_at"]) == leaves
    assert (body["departure_source"], body["departure_confidence"]) == ("api", 1.0)
    assert (body["energy_wanted_wh"], body["energy_wanted_source"]) == (20000, "api")
    assert event["departure_source"] == "api" and event["session_id"] == session_id
    await env.loop.settle()
    demand = env.demand(site_id, session_id)
    assert demand.departure_at == leaves.timestamp()
    assert demand.energy_wanted_wh == 20000
    shown = await env.load_session(site_id)
    assert datetime.fromisoformat(shown["departure_at"]) == leaves
    assert (shown["departure_source"], shown["energy_wanted_source"]) == ("api", "api")
    got = (await env.call("GET", f"/sessions/{session_id}")).json()
    assert got["departure_source"] == "api" and got["energy_wanted_wh"] == 20000

    # Audited like any configuration change: who, and each field from what to what.
    log = (await env.call("GET", f"/events?site_id={site_id}")).json()["data"]
    entry = next(e for e in log if e.get("subject") == "session")
    assert entry["actor_role"] == "owner"
    assert entry["data"]["changes"]["energy_wanted_wh"] == {"old": None, "new": 20000}

    # Cleared: no other source (no car's ask, no id tag, no history): no deadline.
    cleared = await env.call(
        "PATCH", f"/sessions/{session_id}", {"departure_at": None, "energy_wanted_wh": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["departure_at"] is None
    assert cleared.json()["departure_source"] is None
    await env.loop.settle()
    assert env.demand(site_id, session_id).departure_at is None
    assert env.demand(site_id, session_id).energy_wanted_wh is None


async def test_patch_refuses_bad_input_and_the_wrong_roles(env: Env) -> None:
    site_id, charger_id = await _site(env)
    other, _ = await _site(env)
    session_id = await _start(env, charger_id, None, datetime.now(UTC) - timedelta(hours=1))
    path = f"/sessions/{session_id}"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    async def problem(body: Any, status: int, field: str | None = None, **who: Any) -> None:
        response = await env.call("PATCH", path, body, **who)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert field in [e["field"] for e in response.json()["errors"]], response.text

    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    await problem({"departure_at": past}, 422, "departure_at")
    await problem({"departure_at": "2026-12-01T17:30:00"}, 422, "departure_at")  # no offset
    await problem({"departure_at": "tomorrow"}, 422, "departure_at")
    await problem({"energy_wanted_wh": 0}, 422, "energy_wanted_wh")
    await problem({"energy_wanted_wh": -5}, 422, "energy_wanted_wh")
    await problem({"energy_wanted_wh": 5e6}, 422, "energy_wanted_wh")
    await problem({"energy_wanted_wh": "10"}, 422, "energy_wanted_wh")
    await problem({"departure": soon}, 422)  # unknown field
    await problem({"departure_at": soon}, 403, role="viewer")
    await problem({"departure_at": soon}, 404, role="owner", site=other)
    response = await env.call("PATCH", f"/sessions/{uuid.uuid4()}", {"departure_at": soon})
    assert response.status_code == 404
    ok = await env.call("PATCH", path, {"departure_at": soon}, role="owner", site=site_id)
    assert ok.status_code == 200 and ok.json()["departure_source"] == "api"
    ok = await env.call("PATCH", path, {"energy_wanted_wh": 5000}, role="service")
    assert ok.status_code == 200 and ok.json()["energy_wanted_source"] == "api"
    assert ok.json()["departure_source"] == "api"  # not sent: left as it was


async def test_an_id_tags_defaults_and_then_its_history_fill_a_new_session(env: Env) -> None:
    site_id, charger_id = await _site(env, timezone="Europe/Oslo")
    tag = await env.call(
        "POST",
        "/id-tags",
        {"id_tag": "DRIVER", "default_departure_time": "17:30", "default_energy_wh": 15000},
    )
    assert tag.status_code == 201, tag.text
    assert tag.json()["default_departure_time"] == "17:30"
    now = datetime.now(UTC)
    session_id = await _start(env, charger_id, "DRIVER", now)
    got = (await env.call("GET", f"/sessions/{session_id}")).json()
    assert got["departure_source"] == "id_tag_default"
    departure = datetime.fromisoformat(got["departure_at"])
    local = departure.astimezone(ZONE)
    assert (local.hour, local.minute) == (17, 30) and now < departure <= now + timedelta(days=1)
    assert (got["energy_wanted_wh"], got["energy_wanted_source"]) == (15000, "id_tag_default")
    await env.loop.settle()
    assert env.demand(site_id, session_id).departure_at == departure.timestamp()

    # Without defaults, the tag's completed sessions predict it: 4 h, 10 kWh each time.
    cleared = await env.call(
        "PATCH",
        f"/id-tags/{tag.json()['id']}",
        {"default_departure_time": None, "default_energy_wh": None},
    )
    assert cleared.status_code == 200, cleared.text
    async with env.db.session() as s:
        for week in range(1, 5):
            start = now - timedelta(weeks=week)
            s.add(
                m.ChargingSession(
                    charger_id=charger_id,
                    evse_number=1,
                    connector_id=1,
                    id_tag="DRIVER",
                    started_at=start,
                    stopped_at=start + timedelta(hours=4),
                    energy_wh=10000,
                )
            )
    ended = await env.call("POST", f"/sessions/{session_id}/actions/end", {"reason": "test"})
    assert ended.status_code == 200
    await env.loop.settle()
    second = await _start(env, charger_id, "DRIVER", datetime.now(UTC))
    got = (await env.call("GET", f"/sessions/{second}")).json()
    assert got["departure_source"] == "predicted"
    assert 0 < got["departure_confidence"] < 1
    started = datetime.fromisoformat(got["started_at"])
    assert datetime.fromisoformat(got["departure_at"]) - started == timedelta(hours=4)
    assert (got["energy_wanted_wh"], got["energy_wanted_source"]) == (10000, "predicted")
    shown = await env.load_session(site_id)
    assert shown["departure_source"] == "predicted"
    assert shown["departure_confidence"] == round(got["departure_confidence"], 2)


def test_a_predicted_energy_caps_only_until_the_car_has_taken_it() -> None:
    def spec(wanted: float | None, taken: float, source: str | None) -> SessionSpec:
        now = datetime.now(UTC)
        return SessionSpec(
            "s", "c", 1, 1, 1, now, None, None, None, wanted, taken, energy_wanted_source=source
        )

    assert energy_still_wanted(spec(10000, 4000, "predicted")) == 6000
    assert energy_still_wanted(spec(10000, 10500, "predicted")) is None  # wants more
    assert energy_still_wanted(spec(10000, 10500, "api")) == 0.0  # said so: served
    assert energy_still_wanted(spec(None, 10500, None)) is None


async def test_a_cars_needs_reach_the_plan_without_waiting_for_a_full_re_read(env: Env) -> None:
    site_id, charger_id = await _site(env)
    session_id = await _start(env, charger_id, None, datetime.now(UTC))
    leaves = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    async with env.db.session() as s:  # what store.tx_events.apply_ev_needs writes
        row = await s.get(m.ChargingSession, uuid.UUID(session_id))
        assert row is not None
        row.departure_time, row.departure_source = leaves, "charger"
    needs: ev.SessionNeeds = {
        "session_id": session_id,
        "charger_id": str(charger_id),
        "ocpp_id": "CP",
        "connector_id": 1,
        "departure_at": leaves.isoformat(),
        "energy_wanted_wh": None,
        "ev_max_current": None,
        "needs": True,
    }
    env.bus.publish(ev.SESSION_UPDATED, dict(needs))
    await env.loop.settle()
    assert env.demand(site_id, session_id).departure_at == leaves.timestamp()
    assert (await env.load_session(site_id))["departure_source"] == "charger"
