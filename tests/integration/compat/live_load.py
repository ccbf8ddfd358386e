"""The load manager's side of a vendor surface's change: a charging session on a
connector, the real control loop on the app's database and bus, and a wait (with a
deadline) for its view to show what a change should do."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from chargegrid.control.component import control_loop
from chargegrid.store.models import Charger, ChargingSession
from chargegrid.store.types import utcnow
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api


async def charging(api: Api, charger: dict[str, Any], evse: dict[str, Any]) -> str:
    """An online charger with an accepted session on the EVSE's first connector."""
    connector = evse["connectors"][0]
    session_id = uuid.uuid4()
    async with UnitOfWork(api.db) as uow:
        await uow.session.execute(
            update(Charger).where(Charger.id == uuid.UUID(charger["id"])).values(online=True)
        )
        uow.session.add(
            ChargingSession(
                id=session_id,
                charger_id=uuid.UUID(charger["id"]),
                evse_id=uuid.UUID(evse["id"]),
                connector_pk=uuid.UUID(connector["id"]),
                evse_number=evse["evse_number"],
                connector_id=connector["connector_id"],
                started_at=utcnow(),
            )
        )
        await uow.commit()
    return str(session_id)


@dataclass
class AcceptingGateway:
    """Chargers that accept every command (as a runtime handle, where the OCPP server
    puts its gateway), and what they were sent."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        self.sent.append((ocpp_id, action, payload))
        return {"status": "Accepted"}

    def profile_limits(self, ocpp_id: str) -> list[float]:
        """The first period's limit of each SetChargingProfile sent to ``ocpp_id``."""
        limits = []
        for to, action, payload in self.sent:
            if to == ocpp_id and action == "SetChargingProfile":
                schedule = payload["csChargingProfiles"]["chargingSchedule"]
                limits.append(schedule["chargingSchedulePeriod"][0]["limit"])
        return limits


@asynccontextmanager
async def running_loop(api: Api) -> AsyncIterator[AcceptingGateway]:
    """The control loop as ``chargegrid serve`` runs it, on the app's runtime, with
    chargers that accept what it sends."""
    runtime = api.app.state.runtime
    gateway = AcceptingGateway()
    runtime.handles["gateway"] = gateway
    try:
        async with control_loop(runtime):
            yield gateway
    finally:
        runtime.handles.pop("gateway", None)


async def profile_sent(
    gateway: AcceptingGateway,
    ocpp_id: str,
    until: Callable[[float], bool],
    deadline_s: float = 5.0,
) -> list[float]:
    """The limits of the charging profiles sent to ``ocpp_id`` once the latest one
    satisfies ``until``; fails with what was sent when the deadline passes first."""
    end = time.monotonic() + deadline_s
    while True:
        limits = gateway.profile_limits(ocpp_id)
        if limits and until(limits[-1]):
            return limits
        assert time.monotonic() < end, gateway.sent
        await asyncio.sleep(0.01)


async def session_view(
    api: Api,
    site_id: str,
    session_id: str,
    until: Callable[[dict[str, Any]], bool],
    deadline_s: float = 5.0,
) -> dict[str, Any]:
    """The session in ``GET /api/v1/sites/{id}/load`` once ``until`` holds for it;
    fails with the last view when the deadline passes first."""
    end = time.monotonic() + deadline_s
    while True:
        view = await api.ok("GET", f"/sites/{site_id}/load")
        mine = [s for s in view["sessions"] if s["session_id"] == session_id]
        if mine and until(mine[0]):
            return mine[0]
        assert time.monotonic() < end, view
        await asyncio.sleep(0.02)
