"""Password rotation end to end: REST in process, the charger on a real socket (the
independent ``ocpp`` package), old and new password both accepted until the charger
connects with the new one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result

from chargegrid.services.auth import Role
from tests.e2e.conftest import eventually
from tests.e2e.ocpp201.station import Station
from tests.e2e.ocpp201.station import connect as connect_201
from tests.e2e.security_stack import Stack, basic, security_stack
from tests.e2e.test_ocpp_library_client import LibraryCharger

pytestmark = pytest.mark.e2e

OLD = "old-password-0123456789"


class Charger16(LibraryCharger):
    """A 1.6 wallbox that answers ChangeConfiguration with ``change_answer``."""

    change_answer = "Accepted"

    @on("ChangeConfiguration")  # type: ignore[misc]
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        if self.change_answer in ("Accepted", "RebootRequired"):
            self.config[key] = value
        return call_result.ChangeConfiguration(status=self.change_answer)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with security_stack(tmp_path) as s:
        yield s


async def handshake(stack: Stack, ocpp_id: str, password: str, version: str = "ocpp1.6") -> int:
    """The HTTP status of a handshake with ``password`` (101: admitted)."""
    try:
        ws = await websockets.connect(
            stack.csms.url(ocpp_id),
            subprotocols=[version],
            additional_headers=basic(ocpp_id, password),
        )
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101


@contextlib.asynccontextmanager
async def online_16(
    stack: Stack, ocpp_id: str, password: str, kind: type[Charger16] = Charger16
) -> AsyncIterator[Charger16]:
    ws = await websockets.connect(
        stack.csms.url(ocpp_id),
        subprotocols=["ocpp1.6"],
        additional_headers=basic(ocpp_id, password),
    )
    cp = kind(ocpp_id, ws)
    cp.config = {"MeterValueSampleInterval": "10"}
    task = asyncio.create_task(cp.start())
    try:
        boot = await cp.call(
            call.BootNotification(charge_point_vendor="Acme", charge_point_model="W")
        )
        assert boot.status == "Accepted"
        await wait_online(stack, ocpp_id)
        yield cp
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await task


async def wait_online(stack: Stack, ocpp_id: str) -> None:
    async def online() -> bool:
        return stack.central.gateway.is_online(ocpp_id)

    await eventually(online, what=f"{ocpp_id} online")


async def pending_hash(stack: Stack, ocpp_id: str) -> str | None:
    row = await stack.csms.charger_row(ocpp_id)
    value: str | None = row.pending_password_hash
    return value


async def test_rotation_on_16_keeps_the_old_password_until_the_new_one_is_used(
    stack: Stack,
) -> None:
    charger = await stack.add_charger("ROT-16", password=OLD)
    async with online_16(stack, "ROT-16", OLD) as cp:
        response = await stack.call("POST", f"/chargers/{charger['id']}/actions/rotate-password")
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        body = response.json()
        new = body["password"]
        assert body["status"] == "Accepted" and body["pending"] is True
        assert len(new) == 20 and new.isalnum()
        # Security Whitepaper: the key is the password's bytes as hex (20 bytes, 40 digits).
        assert cp.config["AuthorizationKey"] == new.encode().hex()
        assert await pending_hash(stack, "ROT-16") is not None
        # Still its old connection; meanwhile both passwords get in.
        assert await handshake(stack, "ROT-16", OLD) == 101
        assert await pending_hash(stack, "ROT-16") is not None
        assert await handshake(stack, "ROT-16", "wrong-password-000000") == 401
    # The charger reconnects with the new password: from now on only that one works.
    assert await handshake(stack, "ROT-16", new) == 101
    assert await pending_hash(stack, "ROT-16") is None
    assert await handshake(stack, "ROT-16", OLD) == 401
    assert await handshake(stack, "ROT-16", new) == 101

    async def completed() -> bool:
        events = await stack.security_events(charger["id"])
        return "PasswordRotationCompleted" in [e["type"] for e in events]

    await eventually(completed, what="the completed rotation in the log")
    events = await stack.security_events(charger["id"])
    types = [e["type"] for e in events]
    assert types.index("PasswordRotated") < types.index("PasswordRotationCompleted")
    assert "FailedToAuthenticateAtCsms" in types
    assert all(e["source"] == "csms" for e in events)
    # The password is never in the log.
    assert all(new not in (e["tech_info"] or "") for e in events)


async def test_a_refused_rotation_changes_nothing(stack: Stack) -> None:
    charger = await stack.add_charger("ROT-REJ", password=OLD)
    async with online_16(stack, "ROT-REJ", OLD) as cp:
        cp.change_answer = "Rejected"
        before = (await stack.csms.charger_row("ROT-REJ")).password_hash
        response = await stack.call("POST", f"/chargers/{charger['id']}/actions/rotate-password")
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Rejected" in response.json()["detail"]
        assert "AuthorizationKey" not in cp.config
        row = await stack.csms.charger_row("ROT-REJ")
        assert (row.password_hash, row.pending_password_hash) == (before, None)
        assert await handshake(stack, "ROT-REJ", OLD) == 101


async def test_rotation_needs_the_charger_connected_and_a_technician(stack: Stack) -> None:
    charger = await stack.add_charger("ROT-OFF", password=OLD)
    path = f"/chargers/{charger['id']}/actions/rotate-password"
    response = await stack.call("POST", path)
    assert response.status_code == 409, response.text
    assert "offline" in response.json()["detail"]
    owner = await stack.token_for(Role.OWNER)
    assert (await stack.call("POST", path, token=owner)).status_code == 403
    row = await stack.csms.charger_row("ROT-OFF")
    assert row.pending_password_hash is None


async def test_rotation_on_201_sets_basic_auth_password(stack: Stack) -> None:
    charger = await stack.add_charger("ROT-201", password=OLD)
    station, ws, task = await connect_201(
        stack.csms, "ROT-201", additional_headers=basic("ROT-201", OLD)
    )
    try:
        assert (await station.boot()).status == "Accepted"
        await wait_online(stack, "ROT-201")
        response = await stack.call("POST", f"/chargers/{charger['id']}/actions/rotate-password")
        assert response.status_code == 200, response.text
        new = response.json()["password"]
        assert len(new) == 40
        sets = [
            d
            for p in station.received.of("SetVariables")
            for d in p["set_variable_data"]
            if d["variable"]["name"] == "BasicAuthPassword"
        ]
        assert [d["attribute_value"] for d in sets] == [new]
        assert isinstance(station, Station)
        # The old password still works (the SetVariables observer did not replace it).
        assert await handshake(stack, "ROT-201", OLD, "ocpp2.0.1") == 101
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await task
    assert await handshake(stack, "ROT-201", new, "ocpp2.0.1") == 101
    assert await handshake(stack, "ROT-201", OLD, "ocpp2.0.1") == 401
