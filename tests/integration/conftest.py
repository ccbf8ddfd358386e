"""The REST API in process (httpx over ASGI) on a fresh database, with tokens per role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chargegrid.app import build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork

API = "/api/v1"


@dataclass
class Api:
    client: httpx.AsyncClient
    db: Database
    bus: EventBus
    app: FastAPI
    _tokens: dict[tuple[str, tuple[uuid.UUID, ...]], str] = field(default_factory=dict)

    async def token(self, role: str = "admin", sites: list[uuid.UUID] | None = None) -> str:
        key = (role, tuple(sites or ()))
        if key not in self._tokens:
            async with UnitOfWork(self.db) as uow:
                self._tokens[key] = await create_token(uow, Role(role), sites)
        return self._tokens[key]

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        role: str = "admin",
        sites: list[uuid.UUID] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token(role, sites)}"}
        return await self.client.request(
            method, API + path, json=json, headers=headers, params=params
        )

    async def ok(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        """Call and insist on a 2xx; the body (or None for 204)."""
        response = await self.call(method, path, json, **kw)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    async def site(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Site", "max_current": 63} | fields
        result: dict[str, Any] = await self.ok("POST", "/sites", body)
        return result

    async def circuit(self, site_id: str, **fields: Any) -> dict[str, Any]:
        body = {"name": "Circuit", "max_current": 32} | fields
        result: dict[str, Any] = await self.ok("POST", f"/sites/{site_id}/circuits", body)
        return result

    async def charger(self, site_id: str, **fields: Any) -> dict[str, Any]:
        body = {"ocpp_id": f"CP-{uuid.uuid4().hex[:8]}", "site_id": site_id} | fields
        result: dict[str, Any] = await self.ok("POST", "/chargers", body)
        return result

    async def evse(self, charger_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "evse_number": 1,
            "connectors": [{"connector_id": 1, "power_type": "AC_3_PHASE"}],
        } | fields
        result: dict[str, Any] = await self.ok("POST", f"/chargers/{charger_id}/evses", body)
        return result


def assert_problem(response: httpx.Response, status: int, field_name: str | None = None) -> None:
    """problem+json with ``status``; for 422, an error naming ``field_name``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    if field_name is not None:
        fields = [e["field"] for e in body["errors"]]
        assert field_name in fields, body


@pytest.fixture
async def api(db: Database, bus: EventBus) -> AsyncIterator[Api]:
    app = build_app(Settings(database_url=db.url), db=db, bus=bus)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, db, bus, app)
