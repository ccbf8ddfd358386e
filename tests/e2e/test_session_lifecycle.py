"""When a session runs and when it ends, with the independent ``ocpp`` library as the
charger, over real sockets: refused starts, Available, a reboot without resume and its
late StopTransaction, and an operator's end through the REST API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from sqlalchemy import select

from chargegrid.app import build_app
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.services.charger_ports import SessionRules
from chargegrid.store.charger_store import sessions
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import Csms, eventually, start_csms
from tests.e2e.test_ocpp_library_client import connect, now_iso

pytestmark = pytest.mark.e2e


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[Csms]:
    """A central system whose rebooted transactions must show themselves within 0.5 s."""
    server = await start_csms(tmp_path, session_rules=SessionRules(resume_timeout_s=0.5))
    try:
        yield server
    finally:
        await server.central.stop()
        await server.db.dispose()


async def session_row(csms: Csms, transaction_id: int) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.transaction_id == transaction_id))
    return row


async def booted(csms: Csms, ocpp_id: str) -> tuple[Any, Any, Any]:
    cp, ws, task = await connect(csms, ocpp_id)
    boot = await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
    assert boot.status == "Accepted"
    return cp, ws, task


async def stopped_event(events: Any, session_id: str) -> dict[str, Any]:
    """The next session.stopped for ``session_id`` (others are skipped), within 10 s."""

    async def find() -> dict[str, Any]:
        while True:
            event = await events.get()
            if event.payload["session_id"] == session_id:
                return dict(event.payload)

    return await asyncio.wait_for(find(), 10)


async def test_a_refused_start_is_no_session_and_available_ends_the_real_one(csms: Csms) -> None:
    for ocpp_id in ("REF-A", "REF-B"):
        await csms.add_charger(ocpp_id, meter_value_interval=10)
    await csms.add_id_tag("CAR-1")
    a, ws_a, task_a = await booted(csms, "REF-A")
    b, ws_b, task_b = await booted(csms, "REF-B")
    try:
        first = await a.call(
            call.StartTransaction(
                connector_id=1, id_tag="CAR-1", meter_start=0, timestamp=now_iso()
            )
        )
        assert first.id_tag_info["status"] == "Accepted"
        refused = await b.call(
            call.StartTransaction(
                connector_id=1, id_tag="CAR-1", meter_start=0, timestamp=now_iso()
            )
        )
        assert refused.id_tag_info["status"] == "ConcurrentTx"
        assert refused.transaction_id != first.transaction_id
        row = await session_row(csms, refused.transaction_id)
        assert row.authorization_status == "ConcurrentTx" and row.stopped_at is None
        # As a charger with StopTransactionOnInvalidId does: Finishing closes the record.
        await b.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing")
        )
        assert (await session_row(csms, refused.transaction_id)).stop_reason == (
            "ConnectorFinishing"
        )

        # The car on A leaves without a StopTransaction reaching us: Available ends it.
        async with csms.bus.subscribe("session.stopped") as events:
            await a.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Available", timestamp=now_iso()
                )
            )
            event = await stopped_event(
                events, str((await session_row(csms, first.transaction_id)).id)
            )
        assert event["reason"] == "ConnectorAvailable"
        assert (await session_row(csms, first.transaction_id)).stopped_at is not None
        # The tag is free: the same car starts on B.
        again = await b.call(
            call.StartTransaction(
                connector_id=1, id_tag="CAR-1", meter_start=0, timestamp=now_iso()
            )
        )
        assert again.id_tag_info["status"] == "Accepted"
    finally:
        for ws, task in ((ws_a, task_a), (ws_b, task_b)):
            await ws.close()
            task.cancel()


async def test_a_reboot_without_resume_closes_and_the_late_stop_completes(quick: Csms) -> None:
    csms = quick
    await csms.add_charger("REBOOT", meter_value_interval=0)
    await csms.add_id_tag("CAR-2")
    cp, ws, task = await booted(csms, "REBOOT")
    start = await cp.call(
        call.StartTransaction(connector_id=1, id_tag="CAR-2", meter_start=500, timestamp=now_iso())
    )
    tx = start.transaction_id
    session_id = str((await session_row(csms, tx)).id)
    await ws.close()
    task.cancel()

    cp, ws, task = await connect(csms, "REBOOT")
    try:
        async with csms.bus.subscribe("session.stopped") as events:
            boot = await cp.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            assert boot.status == "Accepted"
            # The charger says nothing about transaction `tx`: it did not survive.
            event = await stopped_event(events, session_id)
        assert event["reason"] == "NotResumed"
        row = await session_row(csms, tx)
        assert row.stop_reason == "NotResumed" and row.meter_stop is None

        # Its StopTransaction, queued through the power loss, still completes it.
        stop = call.StopTransaction(
            meter_stop=2700, timestamp=now_iso(), transaction_id=tx, reason="PowerLoss"
        )
        await cp.call(stop)
        row = await session_row(csms, tx)
        assert (row.meter_stop, row.energy_wh, row.stop_reason) == (2700, 2200, "PowerLoss")
        await cp.call(stop)  # a repeat changes nothing
        assert (await session_row(csms, tx)).energy_wh == 2200
    finally:
        await ws.close()
        task.cancel()


async def test_an_operator_ends_a_session_on_an_offline_charger(csms: Csms) -> None:
    await csms.add_charger("GONE", meter_value_interval=10)
    await csms.add_charger("NEXT", meter_value_interval=10)
    await csms.add_id_tag("CAR-3")
    cp, ws, task = await booted(csms, "GONE")
    start = await cp.call(
        call.StartTransaction(connector_id=1, id_tag="CAR-3", meter_start=0, timestamp=now_iso())
    )
    await ws.close()
    task.cancel()

    async def offline() -> bool:
        return not (await csms.charger_row("GONE")).online

    await eventually(offline, what="charger marked offline")
    session_id = str((await session_row(csms, start.transaction_id)).id)

    async with UnitOfWork(csms.db) as uow:
        token = await create_token(uow, Role.SERVICE, None)
    app = build_app(Settings(database_url=csms.db.url), db=csms.db, bus=csms.bus)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        csms.bus.subscribe("session.stopped") as events,
    ):
        response = await client.post(
            f"/api/v1/sessions/{session_id}/actions/end",
            json={"reason": "charger lost its uplink"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        event = await stopped_event(events, session_id)
    assert event["reason"] == "Operator" and event["end_reason"] == "charger lost its uplink"
    row = await session_row(csms, start.transaction_id)
    assert row.stop_reason == "Operator" and row.ended_by.startswith("service:")

    # The car's tag starts again on another charger.
    cp2, ws2, task2 = await booted(csms, "NEXT")
    try:
        again = await cp2.call(
            call.StartTransaction(
                connector_id=1, id_tag="CAR-3", meter_start=0, timestamp=now_iso()
            )
        )
        assert again.id_tag_info["status"] == "Accepted"
    finally:
        await ws2.close()
        task2.cancel()
