"""The actions API end to end: REST in process, OCPP over a real socket, a simulated charger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegrid.app import Runtime, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.ocpp.component import ocpp_server
from chargegrid.services import charger_commands
from chargegrid.services.auth import Role, create_token
from chargegrid.sim.car import Car
from chargegrid.sim.charger import ChargerSpec, SimCharger
from chargegrid.sim.faults import Faults
from chargegrid.sim.fleet import Fleet, FleetConfig
from chargegrid.store.charger_store import SqlChargerStore
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e
API = "/api/v1"


@dataclass
class Stack:
    http: httpx.AsyncClient
    runtime: Runtime
    token: str
    port: int

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return await self.http.request(method, API + path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    def fleet(self, spec: ChargerSpec, faults: Faults | None = None) -> Fleet:
        config = FleetConfig(
            url=f"ws://127.0.0.1:{self.port}/ocpp",
            speed=30.0,
            tick_s=0.05,
            mean_idle_s=1e9,  # cars only when a test plugs one in
            faults=faults or Faults(),
        )
        return Fleet(config, specs=[spec])


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", ocpp_port=0)
    db = Database(settings.database_url)
    await upgrade(db.engine)
    runtime = Runtime(settings, db, EventBus())
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    app = build_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with (
        ocpp_server(runtime, SqlChargerStore(db.engine)) as central,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield Stack(http, runtime, token, central.server.port)
    await db.dispose()


async def add_charger(stack: Stack, ocpp_id: str) -> dict[str, Any]:
    site = await stack.ok("POST", "/sites", {"name": "Actions", "max_current": 63})
    charger: dict[str, Any] = await stack.ok(
        "POST",
        "/chargers",
        {"ocpp_id": ocpp_id, "site_id": site["id"], "meter_value_interval": 10},
    )
    await stack.ok("POST", "/id-tags", {"id_tag": "APP-USER"})
    return charger


async def booted(charger: SimCharger) -> bool:
    return charger.booted.is_set() and charger.connection is not None


async def test_actions_reach_the_charger_and_come_back(stack: Stack) -> None:
    charger = await add_charger(stack, "ACT-1")
    cid = charger["id"]
    fleet = stack.fleet(ChargerSpec("ACT-1", connectors=1, phases=3))
    sim = fleet.charger("ACT-1")
    await fleet.start()
    try:
        await eventually(lambda: booted(sim), what="the charger to boot")
        answer = await stack.ok(
            "POST",
            f"/chargers/{cid}/actions/remote-start",
            {"id_tag": "APP-USER", "evse_number": 1},
        )
        assert answer == {"status": "Accepted"}

        async def active_session() -> bool:
            page = await stack.ok("GET", f"/sessions?charger_id={cid}&active=true")
            return len(page["data"]) == 1

        await eventually(active_session, what="the remotely started session")
        (session,) = (await stack.ok("GET", f"/sessions?charger_id={cid}&active=true"))["data"]

        profile = {
            "evse_number": 1,
            "charging_profile_id": 7,
            "stack_level": 2,
            "purpose": "TxDefaultProfile",
            "periods": [{"start_period": 0, "limit": 8.0, "number_phases": 1}],
        }
        answer = await stack.ok("POST", f"/chargers/{cid}/actions/set-charging-profile", profile)
        assert answer == {"status": "Accepted"}

        async def follows_profile() -> bool:
            s = fleet.draw_log.latest("ACT-1", 1)
            return s is not None and s.limit == 8.0 and s.l2 == 0 and s.l3 == 0 and s.l1 > 0

        await eventually(follows_profile, what="8 A on one phase")

        config = await stack.ok(
            "POST",
            f"/chargers/{cid}/actions/get-configuration",
            {"keys": ["MeterValueSampleInterval", "NoSuchKey"]},
        )
        assert config["configuration_key"][0]["value"] == "10"
        assert config["unknown_key"] == ["NoSuchKey"]
        change = await stack.ok(
            "POST", f"/chargers/{cid}/actions/change-configuration", {"key": "Nope", "value": "1"}
        )
        assert change == {"status": "NotSupported"}

        async def meter_values_readable() -> bool:
            page = await stack.ok("GET", f"/sessions/{session['id']}/meter-values")
            return any(v["measurand"] == "Current.Import" for v in page["data"])

        await eventually(meter_values_readable, what="meter values through the API")

        answer = await stack.ok(
            "POST", f"/chargers/{cid}/actions/remote-stop", {"session_id": session["id"]}
        )
        assert answer == {"status": "Accepted"}

        async def stopped() -> bool:
            got = await stack.ok("GET", f"/sessions/{session['id']}")
            return got["stopped_at"] is not None

        await eventually(stopped, what="the session to stop")
        again = await stack.call(
            "POST", f"/chargers/{cid}/actions/remote-stop", {"session_id": session["id"]}
        )
        assert again.status_code == 409
    finally:
        await fleet.stop()


async def test_settings_and_enabled_are_pushed(stack: Stack) -> None:
    charger = await add_charger(stack, "ACT-2")
    fleet = stack.fleet(ChargerSpec("ACT-2"))
    sim = fleet.charger("ACT-2")
    await fleet.start()
    try:
        await eventually(lambda: booted(sim), what="boot")
        await stack.ok("PATCH", f"/chargers/{charger['id']}", {"meter_value_interval": 20})

        async def pushed() -> bool:
            got = await stack.ok("GET", f"/chargers/{charger['id']}")
            return (
                sim.config["MeterValueSampleInterval"] == "20" and got["config_sync"] == "applied"
            )

        await eventually(pushed, what="the new interval on the charger")
        evses = await stack.ok("GET", f"/chargers/{charger['id']}/evses")
        # Created by the charger's first StatusNotification for connector 1.
        (evse,) = [e for e in evses["data"] if e["evse_number"] == 1]
        await stack.ok("PATCH", f"/evses/{evse['id']}", {"enabled": False})

        async def inoperative() -> bool:
            return not sim.connectors[1].operative

        await eventually(inoperative, what="ChangeAvailability Inoperative")
    finally:
        await fleet.stop()


async def test_offline_slow_and_bad_requests(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    charger = await add_charger(stack, "ACT-3")
    cid = charger["id"]
    offline = await stack.call("POST", f"/chargers/{cid}/actions/reset", {"type": "soft"})
    assert offline.status_code == 409
    assert offline.headers["content-type"].startswith("application/problem+json")

    bad = await stack.call("POST", f"/chargers/{cid}/actions/reset", {"type": "sideways"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "type"

    fleet = stack.fleet(ChargerSpec("ACT-3"), Faults(answer_delay_s=2.0))
    sim = fleet.charger("ACT-3")
    await fleet.start()
    try:
        await eventually(lambda: booted(sim), timeout=20, what="boot")
        monkeypatch.setattr(charger_commands, "ACTION_TIMEOUT", 0.3)
        slow = await stack.call("POST", f"/chargers/{cid}/actions/unlock", {"evse_number": 1})
        assert slow.status_code == 504
        monkeypatch.setattr(charger_commands, "ACTION_TIMEOUT", 10.0)
        sim.plug_in(1, Car("ev", 3, 16, 60_000, 50, stay_s=1e9, id_tag="APP-USER"))
        unlocked = await stack.ok("POST", f"/chargers/{cid}/actions/unlock", {"evse_number": 1})
        assert unlocked == {"status": "Unlocked"}
        assert sim.connectors[1].car is None
    finally:
        await fleet.stop()
