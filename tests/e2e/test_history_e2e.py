"""Load history end to end: our OCPP server, the control loop and simulated chargers on
127.0.0.1 with the history component running; what they did is read back through the
API (``GET .../load/history``), polled with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chargegrid.app import build_app
from chargegrid.config import Settings
from chargegrid.control.component import HANDLE
from chargegrid.services.auth import Role, create_token
from chargegrid.services.history_component import load_history
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import Csms, eventually
from tests.e2e.fuse_site import Site
from tests.e2e.fuse_site import start_site as _start
from tests.e2e.fuse_site import stop_site as _stop

pytestmark = pytest.mark.e2e


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Any
    handles: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
async def running(csms_on_each_db: Csms) -> AsyncIterator[tuple[Site, httpx.AsyncClient]]:
    csms = csms_on_each_db
    settings = Settings(database_url=csms.db.url, history=HistorySettings(flush_s=0.2))
    site = await _start(csms)
    runtime = Runtime(settings, csms.db, csms.bus, {HANDLE: site.loop})
    app = build_app(settings, db=csms.db, bus=csms.bus)
    async with UnitOfWork(csms.db) as uow:
        token = await create_token(uow, Role.VIEWER, [site.site_id])
        await uow.commit()
    try:
        async with (
            load_history(runtime),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://test/api/v1",
                headers={"Authorization": f"Bearer {token}"},
            ) as client,
        ):
            yield site, client
    finally:
        await _stop(site)


def _since(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() - seconds, UTC).isoformat()


async def test_a_charging_site_has_history_through_the_api(
    running: tuple[Site, httpx.AsyncClient],
) -> None:
    site, client = running
    site.plug_all()
    await site.charging()
    view = site.loop.view(str(site.site_id))
    assert view is not None
    session_id = view["sessions"][0]["session_id"]
    circuit_id = site.circuits["A"]
    seen: dict[str, Any] = {}

    async def recorded() -> bool:
        params = {"from": _since(120), "step": 1}
        for name, path in (
            ("site", f"/sites/{site.site_id}/load/history"),
            ("circuit", f"/circuits/{circuit_id}/load/history"),
            ("session", f"/sessions/{session_id}/load/history"),
        ):
            response = await client.get(path, params=params)
            assert response.status_code == 200, response.text
            seen[name] = response.json()
        site_allocated = [p["phases"]["l1"]["allocated"] for p in seen["site"]["points"]]
        session_drawn = [p["measured"]["l1"] for p in seen["session"]["points"]]
        return any((a or 0) > 0 for a in site_allocated) and any(
            (d or 0) > 5 for d in session_drawn
        )

    await eventually(recorded, timeout=30, what="allocation and a car's draw in the history")
    site_point = seen["site"]["points"][-1]
    assert site_point["phases"]["l1"]["limit"] == 63.0
    assert all((p["max"]["l1"]["allocated"] or 0) <= 63.0 + 1e-6 for p in seen["site"]["points"])
    circuit_limits = {p["phases"]["l1"]["limit"] for p in seen["circuit"]["points"]}
    assert circuit_limits == {32.0}
    session_point = next(p for p in seen["session"]["points"] if (p["measured"]["l1"] or 0) > 5)
    assert session_point["limit"] is not None and session_point["limit"] > 0
    assert session_point["phases"] in (1.0, 3.0)
    assert uuid.UUID(seen["session"]["site_id"]) == site.site_id
