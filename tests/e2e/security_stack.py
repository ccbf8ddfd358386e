"""The REST API in process and the OCPP server on a real socket, with security wired in
as ``chargegrid serve`` wires it (``app.ocpp_listener``), for the security tests."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chargegrid.app import Runtime, build_app, ocpp_listener
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import Csms

API = "/api/v1"


@dataclass
class Stack:
    http: httpx.AsyncClient
    runtime: Runtime
    central: OcppCentralSystem
    token: str

    @property
    def csms(self) -> Csms:
        """The same server as the OCPP-only tests see it (``tests.e2e.conftest``)."""
        runtime = self.runtime
        return Csms(runtime.db, self.central, runtime.bus, self.central.server.port)

    @property
    def bus(self) -> EventBus:
        return self.runtime.bus

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return await self.http.request(method, API + path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    async def token_for(self, role: Role) -> str:
        async with UnitOfWork(self.runtime.db) as uow:
            return await create_token(uow, role)

    async def add_charger(self, ocpp_id: str, **fields: Any) -> dict[str, Any]:
        site = await self.ok("POST", "/sites", {"name": f"Site {ocpp_id}", "max_current": 63})
        charger: dict[str, Any] = await self.ok(
            "POST", "/chargers", {"ocpp_id": ocpp_id, "site_id": site["id"], **fields}
        )
        return charger

    async def security_events(self, charger_id: str) -> list[dict[str, Any]]:
        page = await self.ok("GET", f"/chargers/{charger_id}/security-events?limit=500")
        events: list[dict[str, Any]] = page["data"]
        return events


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


@contextlib.asynccontextmanager
async def security_stack(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    config = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / f'sec-{uuid.uuid4().hex[:6]}.db'}",
        ocpp_port=0,
        **settings,
    )
    db = Database(config.database_url)
    await upgrade(db.engine)
    runtime = Runtime(config, db, EventBus())
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    app = build_app(config, runtime=runtime)
    try:
        async with (
            ocpp_listener(runtime) as central,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
        ):
            yield Stack(http, runtime, central, token)
    finally:
        await db.dispose()
