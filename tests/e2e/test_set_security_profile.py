"""Raising a charger's security profile the OCPP way, REST in process, the charger on a
real socket (the independent ``ocpp`` package): 1.6 ChangeConfiguration SecurityProfile,
2.0.1 SetNetworkProfile + NetworkConfigurationPriority + Reset OnIdle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call

from tests.e2e.ocpp201.station import connect as connect_201
from tests.e2e.security_stack import Stack, basic, security_stack
from tests.e2e.test_password_rotation import online_16, wait_online

pytestmark = pytest.mark.e2e

PASSWORD = "profile-password-01234"
PUBLIC = "wss://csms.example.com/ocpp/"
HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # wss through a (trusted) TLS-terminating proxy on 127.0.0.1: the test plays it.
    async with security_stack(
        tmp_path, trusted_proxies=("127.0.0.1/32",), ocpp_public_url=PUBLIC
    ) as s:
        yield s


async def status(stack: Stack, ocpp_id: str, headers: dict[str, str], version: str) -> int:
    try:
        ws = await websockets.connect(
            stack.csms.url(ocpp_id), subprotocols=[version], additional_headers=headers
        )
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101


async def test_16_profile_2_accepted_stored_and_enforced(stack: Stack) -> None:
    charger = await stack.add_charger("SP-16", password=PASSWORD)
    path = f"/chargers/{charger['id']}/actions/set-security-profile"
    async with online_16(stack, "SP-16", PASSWORD) as cp:
        answer = await stack.ok("POST", path, {"security_profile": 2})
        assert (answer["security_profile"], answer["previous"]) == (2, 1)
        assert cp.config["SecurityProfile"] == "2"
        assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["security_profile"] == 2
        # Its current connection stays until it reconnects.
        await cp.call(call.Heartbeat())
        # Lowering it again is what OCPP forbids.
        response = await stack.call("POST", path, {"security_profile": 1})
        assert response.status_code == 422, response.text
        assert "security_profile" in response.text
    # Its next connection must meet profile 2: TLS (here via the proxy) and the password.
    assert await status(stack, "SP-16", basic("SP-16", PASSWORD), "ocpp1.6") == 403
    assert await status(stack, "SP-16", {**HTTPS, **basic("SP-16", PASSWORD)}, "ocpp1.6") == 101
    types = [e["type"] for e in await stack.security_events(charger["id"])]
    assert "SecurityProfileChanged" in types


async def test_refusals_change_nothing(stack: Stack) -> None:
    bare = await stack.add_charger("SP-BARE")
    response = await stack.call(
        "POST", f"/chargers/{bare['id']}/actions/set-security-profile", {"security_profile": 2}
    )
    assert response.status_code == 422 and "password" in response.text
    charger = await stack.add_charger("SP-REJ", password=PASSWORD)
    path = f"/chargers/{charger['id']}/actions/set-security-profile"
    assert (await stack.call("POST", path, {"security_profile": 2})).status_code == 409  # offline
    assert (await stack.call("POST", path, {"security_profile": 4})).status_code == 422
    async with online_16(stack, "SP-REJ", PASSWORD) as cp:
        cp.change_answer = "Rejected"
        response = await stack.call("POST", path, {"security_profile": 2})
        assert response.status_code == 409, response.text
        assert "Rejected" in response.json()["detail"]
    assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["security_profile"] == 1


async def test_201_network_profile_priority_and_reset(stack: Stack) -> None:
    charger = await stack.add_charger("SP-201", password=PASSWORD)
    station, ws, task = await connect_201(
        stack.csms, "SP-201", additional_headers=basic("SP-201", PASSWORD)
    )
    try:
        assert (await station.boot()).status == "Accepted"
        await wait_online(stack, "SP-201")
        station.variables[("OCPPCommCtrlr", "NetworkConfigurationPriority")] = "1"
        station.received.clear()
        answer = await stack.ok(
            "POST",
            f"/chargers/{charger['id']}/actions/set-security-profile",
            {"security_profile": 2},
        )
        assert answer["security_profile"] == 2
        assert [s["action"] for s in answer["steps"]] == [
            "GetVariables",
            "SetNetworkProfile",
            "SetVariables",
            "Reset",
        ]
        (network,) = station.received.of("SetNetworkProfile")
        assert network["configuration_slot"] == 2
        data = network["connection_data"]
        assert (data["ocpp_csms_url"], data["security_profile"]) == (PUBLIC, 2)
        assert station.variables[("OCPPCommCtrlr", "NetworkConfigurationPriority")] == "2,1"
        (reset,) = station.received.of("Reset")
        assert reset["type"] == "OnIdle"
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await task
    assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["security_profile"] == 2


async def test_201_rejected_network_profile_keeps_the_profile(stack: Stack) -> None:
    charger = await stack.add_charger("SP-201R", password=PASSWORD)
    station, ws, task = await connect_201(
        stack.csms, "SP-201R", additional_headers=basic("SP-201R", PASSWORD)
    )
    try:
        assert (await station.boot()).status == "Accepted"
        await wait_online(stack, "SP-201R")
        station.answers["SetNetworkProfile"] = {"status": "Rejected"}
        response = await stack.call(
            "POST",
            f"/chargers/{charger['id']}/actions/set-security-profile",
            {"security_profile": 2},
        )
        assert response.status_code == 409, response.text
        assert station.received.of("Reset") == []
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await task
    assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["security_profile"] == 1
