"""A scripted central system for the simulator's unit tests: the charger dials it over an
in-memory pipe (no sockets), it answers with what the test sets and records every
message in order, per connection."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from chargegrid.ocpp.connection import Handler, OcppConnection, Payload, TransportClosed
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, schemas
from chargegrid.sim.charger import ChargerSpec, SimCharger, SimClock
from chargegrid.sim.draw_log import DrawLog
from chargegrid.sim.faults import Faults


@dataclass
class _Wire:
    closed: bool = False


class PipeEnd:
    def __init__(self, wire: _Wire, inbox: asyncio.Queue[bytes | None]) -> None:
        self.wire = wire
        self.inbox = inbox
        self.peer: PipeEnd | None = None
        # Frames to put on the wire right behind one just sent, in the same step.
        self.right_behind: Callable[[bytes], list[bytes]] | None = None
        self.heard: list[Any] = []  # every frame received, parsed

    async def recv(self) -> bytes | str:
        data = await self.inbox.get()
        if data is None:
            raise TransportClosed
        self.heard.append(orjson.loads(data))
        return data

    async def send(self, data: bytes) -> None:
        if self.wire.closed or self.peer is None:
            raise TransportClosed
        self.peer.inbox.put_nowait(data)
        for extra in self.right_behind(data) if self.right_behind else []:
            self.peer.inbox.put_nowait(extra)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.wire.closed:
            self.wire.closed = True
            self.inbox.put_nowait(None)
            assert self.peer is not None
            self.peer.inbox.put_nowait(None)


def pipe() -> tuple[PipeEnd, PipeEnd]:
    wire = _Wire()
    a, b = PipeEnd(wire, asyncio.Queue()), PipeEnd(wire, asyncio.Queue())
    a.peer, b.peer = b, a
    return a, b


@dataclass
class Received:
    connection: int  # 1 = the first connection
    action: str
    payload: Payload
    at: float = field(default_factory=time.monotonic)


class ScriptedCsms:
    def __init__(self) -> None:
        self.boot_status = "Accepted"
        self.authorize_status = "Accepted"
        self.start_status = "Accepted"
        # A TxProfile of this many A sent right behind every StartTransaction answer.
        self.tx_profile_behind_start: float | None = None
        self.ends: list[PipeEnd] = []
        self.received: list[Received] = []
        self.connections: list[OcppConnection] = []
        self._tx_ids = itertools.count(100)

    @property
    def current(self) -> OcppConnection:
        return self.connections[-1]

    async def dial(self, url: str, headers: dict[str, str]) -> PipeEnd:
        charger_end, csms_end = pipe()
        number = len(self.connections) + 1
        connection = OcppConnection(
            csms_end, self._handlers(number), schemas("v16"), CHARGER_ACTIONS_16, name="csms"
        )
        self.connections.append(connection)
        self.ends.append(csms_end)
        csms_end.right_behind = self._behind
        asyncio.get_running_loop().create_task(connection.serve())
        return charger_end

    def _behind(self, data: bytes) -> list[bytes]:
        frame = orjson.loads(data)
        amps = self.tx_profile_behind_start
        if amps is None or frame[0] != 3 or "transactionId" not in frame[2]:
            return []
        body = profile(7, "TxProfile", amps, transactionId=frame[2]["transactionId"])
        call = [
            2,
            "behind-start",
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": body},
        ]
        return [orjson.dumps(call)]

    def answer_to(self, unique_id: str) -> Any:
        return next((f[2] for e in self.ends for f in e.heard if f[:2] == [3, unique_id]), None)

    def actions(self, connection: int | None = None) -> list[str]:
        return [r.action for r in self.received if connection in (None, r.connection)]

    def of(self, action: str) -> list[Payload]:
        return [r.payload for r in self.received if r.action == action]

    def _handlers(self, number: int) -> dict[str, Handler]:
        def record(action: str, answer: Callable[[Payload], Payload]) -> Handler:
            async def handle(payload: Payload) -> Payload:
                self.received.append(Received(number, action, payload))
                return answer(payload)

            return handle

        now = "2026-03-01T12:00:00Z"
        return {
            "BootNotification": record(
                "BootNotification",
                lambda _: {"status": self.boot_status, "currentTime": now, "interval": 300},
            ),
            "StatusNotification": record("StatusNotification", lambda _: {}),
            "Heartbeat": record("Heartbeat", lambda _: {"currentTime": now}),
            "Authorize": record(
                "Authorize", lambda _: {"idTagInfo": {"status": self.authorize_status}}
            ),
            "StartTransaction": record(
                "StartTransaction",
                lambda _: {
                    "transactionId": next(self._tx_ids),
                    "idTagInfo": {"status": self.start_status},
                },
            ),
            "StopTransaction": record("StopTransaction", lambda _: {}),
            "MeterValues": record("MeterValues", lambda _: {}),
        }


def sim_charger(
    csms: ScriptedCsms, faults: Faults | None = None, spec: ChargerSpec | None = None
) -> SimCharger:
    charger = SimCharger(
        spec or ChargerSpec("SIM-T", connectors=1, phases=3),
        "ws://csms.invalid/ocpp",
        clock=SimClock(60.0),
        draw_log=DrawLog(),
        rng=random.Random(1),
        faults=faults,
    )
    charger.dial = csms.dial
    charger.reboot_s = 0.05
    return charger


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    what: str,
    timeout: float = 5.0,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
) -> None:
    """Poll ``check`` until it holds or ``timeout`` passes (then fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def profile(pid: int, purpose: str, amps: float, **extra: Any) -> Payload:
    return {
        "chargingProfileId": pid,
        "stackLevel": 1,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}],
        },
        **extra,
    }


@contextlib.asynccontextmanager
async def running(charger: SimCharger, tick_s: float = 0.01) -> AsyncIterator[SimCharger]:
    """The charger connected to its CSMS, its physics stepping every ``tick_s``."""

    async def physics() -> None:
        while True:
            await asyncio.sleep(tick_s)
            if charger.boots:
                charger.step(tick_s * charger.clock.speed)

    tasks = [asyncio.create_task(charger.run()), asyncio.create_task(physics())]
    try:
        yield charger
    finally:
        await charger.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
