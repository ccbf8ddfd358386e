"""The boot sequence over a real socket, seen frame by frame from a raw client.

Nothing is sent before the charger speaks; after an accepted BootNotification the first
calls are its failsafe and live limits, and the configuration exchange comes after
them; a charger that says nothing is asked for a BootNotification; refused handshakes
are logged with the charger id and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from sqlalchemy import insert

from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.domain.errors import Conflict
from chargegrid.ocpp.boot_sequence import BootSettings
from chargegrid.store import models as m
from chargegrid.store.charger_store import chargers
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from tests.e2e.conftest import Csms, add_wired_charger, eventually, start_csms

pytestmark = pytest.mark.e2e

BOOT = {"chargePointVendor": "Acme", "chargePointModel": "Box"}


@dataclass
class World:
    csms: Csms
    loop: ControlLoop
    charger_id: uuid.UUID


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    holder: dict[str, ControlLoop] = {}

    async def limits_first(charger_id: str) -> None:
        await holder["loop"].first_limits(charger_id)

    csms = await start_csms(
        tmp_path,
        limits_first=limits_first,
        boot_settings=BootSettings(boot_wait_s=0.3, boot_wait_max_s=0.3),
    )
    loop = ControlLoop(csms.db.session, csms.bus, csms.central.gateway, LoopSettings())
    holder["loop"] = loop
    async with csms.db.session() as s:
        site = m.Site(name="Boot", max_current=32.0)
        s.add(site)
        await s.flush()
        charger_id = await add_wired_charger(s, site.id, "BOOT-1")
    await loop.start()
    try:
        yield World(csms, loop, charger_id)
    finally:
        await loop.stop()
        await csms.central.stop()
        await csms.db.dispose()


class RawCharger:
    """A charger speaking OCPP-J by hand: every frame the server sends is kept in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = iter(range(1, 10_000))

    async def frame(self, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            return list(orjson.loads(await self.ws.recv()))

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[str, list[Any]]:
        unique = f"c{next(self.ids)}"
        await self.ws.send(orjson.dumps([2, unique, action, payload]).decode())
        return unique, await self.frame()

    async def answer(self, frame: list[Any], payload: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps([3, frame[1], payload]).decode())


async def open_raw(csms: Csms, ocpp_id: str) -> RawCharger:
    return RawCharger(await websockets.connect(csms.url(ocpp_id), subprotocols=["ocpp1.6"]))


async def test_a_silent_charger_gets_nothing_but_a_trigger_for_its_boot(world: World) -> None:
    charger = await open_raw(world.csms, "BOOT-1")
    try:
        # The very first frame: no GetConfiguration, no profile, only the nudge.
        first = await charger.frame()
        assert first[0] == 2 and first[2] == "TriggerMessage"
        assert first[3] == {"requestedMessage": "BootNotification"}
        with pytest.raises(Conflict, match="not registered"):
            world.csms.central.gateway.connection("BOOT-1")
        await charger.answer(first, {"status": "Accepted"})
        unique, answer = await charger.call("BootNotification", BOOT)
        assert answer[:2] == [3, unique] and answer[2]["status"] == "Accepted"
    finally:
        await charger.ws.close()


async def boot_and_answer(charger: RawCharger) -> list[tuple[str, dict[str, Any]]]:
    """Boot, then answer every call up to the configuration push; the calls in order."""
    unique, answer = await charger.call("BootNotification", BOOT)
    # The answer is the first frame: nothing was sent before the charger spoke.
    assert answer[:2] == [3, unique] and answer[2]["status"] == "Accepted"
    seen: list[tuple[str, dict[str, Any]]] = []
    while not seen or seen[-1][0] != "ChangeConfiguration":
        frame = await charger.frame()
        assert frame[0] == 2
        seen.append((frame[2], frame[3]))
        if frame[2] == "GetConfiguration":
            await charger.answer(frame, {"configurationKey": []})
        else:
            await charger.answer(frame, {"status": "Accepted"})
    return seen


def assert_failsafe_then_limits_then_configuration(seen: list[tuple[str, Any]]) -> None:
    actions = [a for a, _ in seen]
    config_at = actions.index("GetConfiguration")
    profiles = [p for a, p in seen[:config_at] if a == "SetChargingProfile"]
    assert actions[:config_at] == ["SetChargingProfile"] * len(profiles)
    # The failsafe (TxDefaultProfile at stack 0) first, then the idle EVSE's live 0 A.
    failsafe = profiles[0]["csChargingProfiles"]
    assert failsafe["chargingProfilePurpose"] == "TxDefaultProfile"
    assert failsafe["stackLevel"] == 0
    live = [p["csChargingProfiles"] for p in profiles[1:]]
    assert any(p["stackLevel"] > 0 for p in live)
    assert "SetChargingProfile" not in actions[config_at:]


async def test_failsafe_and_limits_come_first_then_the_configuration(world: World) -> None:
    charger = await open_raw(world.csms, "BOOT-1")
    try:
        assert_failsafe_then_limits_then_configuration(await boot_and_answer(charger))
    finally:
        await charger.ws.close()


async def test_after_a_reboot_the_failsafe_comes_first_again(world: World) -> None:
    charger = await open_raw(world.csms, "BOOT-1")
    await boot_and_answer(charger)
    await charger.ws.close()
    gateway = world.csms.central.gateway
    await eventually(lambda: _false(gateway.is_online("BOOT-1")), what="the link gone")
    charger = await open_raw(world.csms, "BOOT-1")
    try:
        assert_failsafe_then_limits_then_configuration(await boot_and_answer(charger))
    finally:
        await charger.ws.close()


async def test_reconnect_without_reboot_is_ready_once_it_speaks(world: World) -> None:
    charger = await open_raw(world.csms, "BOOT-1")
    await charger.call("BootNotification", BOOT)
    await charger.ws.close()
    gateway = world.csms.central.gateway
    await eventually(lambda: _false(gateway.is_online("BOOT-1")), what="the link gone")

    with world.csms.bus.subscribe("charger.ready") as readiness:
        charger = await open_raw(world.csms, "BOOT-1")
        try:
            await eventually(lambda: _true("BOOT-1" in gateway._live), what="the socket attached")
            # Connected, but calls are refused until it has spoken.
            assert not gateway.is_online("BOOT-1")
            unique, answer = await charger.call("Heartbeat", {})
            assert answer[:2] == [3, unique]
            ready = await asyncio.wait_for(readiness.get(), 5)
            assert ready.payload["rebooted"] is False
            assert gateway.is_online("BOOT-1")
        finally:
            await charger.ws.close()


async def test_pending_charger_is_told_to_boot_again_soon_and_gets_no_calls(
    tmp_path: Path,
) -> None:
    csms = await start_csms(tmp_path, auto_register=True)
    try:
        charger = await open_raw(csms, "NEW-ONE")
        _, answer = await charger.call("BootNotification", BOOT)
        assert answer[2]["status"] == "Pending"
        assert answer[2]["interval"] == 30
        assert not csms.central.gateway.is_online("NEW-ONE")
        # A heartbeat does not make a Pending charger ready either.
        await charger.call("Heartbeat", {})
        assert not csms.central.gateway.is_online("NEW-ONE")
        await charger.ws.close()
    finally:
        await csms.central.stop()
        await csms.db.dispose()


async def test_refused_handshakes_are_logged_with_id_and_reason(
    csms: Csms, caplog: pytest.LogCaptureFixture
) -> None:
    await csms.add_charger("LOCKED", password="s3cret-pass")
    caplog.set_level(logging.WARNING, logger="chargegrid.ocpp.server")
    attempts = [
        (csms.url("NOBODY"), ["ocpp1.6"], "NOBODY", "unknown charge point id"),
        (csms.url("LOCKED"), ["ocpp1.5"], "LOCKED", "subprotocols ['ocpp1.5'] offered"),
        (csms.url("LOCKED"), ["ocpp1.6"], "LOCKED", "no Basic credentials"),
        (
            csms.url("LOCKED").replace("ws://", "ws://LOCKED:wrong@"),
            ["ocpp1.6"],
            "LOCKED",
            "wrong user or password",
        ),
    ]
    for url, offered, ocpp_id, reason in attempts:
        caplog.clear()
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(url, subprotocols=offered)
        messages = [r.getMessage() for r in caplog.records]
        assert any(ocpp_id in text and reason in text for text in messages), messages


async def _true(value: bool) -> bool:
    return value


async def _false(value: bool) -> bool:
    return not value


async def test_start_up_marks_chargers_a_crash_left_online_as_offline(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crashed.db'}"
    db = Database(url)
    await upgrade(db.engine)
    async with db.engine.begin() as conn:
        await conn.execute(insert(chargers).values(id=uuid.uuid4(), ocpp_id="LEFT-ON", online=True))
    await db.dispose()
    csms = await start_csms(tmp_path, url)
    try:
        row = await csms.charger_row("LEFT-ON")
        assert row.online is False
    finally:
        await csms.central.stop()
        await csms.db.dispose()
