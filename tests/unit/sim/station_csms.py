"""A scripted OCPP 2.0.1 CSMS for the 2.0.1 station's unit tests: the station dials it
over an in-memory pipe (no sockets); it validates every frame both ways against the
2.0.1 schemas, answers with what the test sets and records every message in order."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

from tests.unit.ocpp.sim_csms import PipeEnd, Received, pipe, until

from chargegrid.ocpp.connection import Handler, OcppConnection, Payload
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_201, schemas
from chargegrid.sim.car import Car
from chargegrid.sim.draw_log import DrawLog
from chargegrid.sim.faults import Faults
from chargegrid.sim.state import ChargerSpec, SimClock
from chargegrid.sim.v201.station import SimStation201

NOW = "2026-03-01T12:00:00Z"


class StationCsms:
    def __init__(self) -> None:
        self.boot_status = "Accepted"
        self.authorize_status = "Accepted"
        self.start_status = "Accepted"  # idTokenInfo.status answered to a Started event
        self.received: list[Received] = []
        self.connections: list[OcppConnection] = []
        self.reachable = True  # False: the station's dials fail (it is offline)

    @property
    def current(self) -> OcppConnection:
        return self.connections[-1]

    async def dial(self, url: str, headers: dict[str, str]) -> PipeEnd:
        if not self.reachable:
            raise OSError("unreachable")
        station_end, csms_end = pipe()
        station_end.peer, csms_end.peer = csms_end, station_end
        number = len(self.connections) + 1
        connection = OcppConnection(
            csms_end, self._handlers(number), schemas("v201"), CHARGER_ACTIONS_201, name="csms"
        )
        self.connections.append(connection)
        asyncio.get_running_loop().create_task(connection.serve())
        return station_end

    def actions(self, connection: int | None = None) -> list[str]:
        return [r.action for r in self.received if connection in (None, r.connection)]

    def of(self, action: str) -> list[Payload]:
        return [r.payload for r in self.received if r.action == action]

    def events(self, kind: str | None = None) -> list[Payload]:
        return [e for e in self.of("TransactionEvent") if kind in (None, e["eventType"])]

    async def call(self, action: str, payload: Payload, timeout: float = 3.0) -> Payload:  # noqa: ASYNC109
        return await self.current.call(action, payload, timeout)

    def _handlers(self, number: int) -> dict[str, Handler]:
        def record(action: str, answer: Callable[[Payload], Payload]) -> Handler:
            async def handle(payload: Payload) -> Payload:
                self.received.append(Received(number, action, payload))
                return answer(payload)

            return handle

        def tx_event(p: Payload) -> Payload:
            if "idToken" in p:
                return {"idTokenInfo": {"status": self.start_status}}
            return {}

        return {
            "BootNotification": record(
                "BootNotification",
                lambda _: {"status": self.boot_status, "currentTime": NOW, "interval": 300},
            ),
            "StatusNotification": record("StatusNotification", lambda _: {}),
            "Heartbeat": record("Heartbeat", lambda _: {"currentTime": NOW}),
            "Authorize": record(
                "Authorize", lambda _: {"idTokenInfo": {"status": self.authorize_status}}
            ),
            "TransactionEvent": record("TransactionEvent", tx_event),
            "MeterValues": record("MeterValues", lambda _: {}),
            "NotifyReport": record("NotifyReport", lambda _: {}),
            "ReportChargingProfiles": record("ReportChargingProfiles", lambda _: {}),
            "LogStatusNotification": record("LogStatusNotification", lambda _: {}),
            "FirmwareStatusNotification": record("FirmwareStatusNotification", lambda _: {}),
        }


def station(
    csms: StationCsms, faults: Faults | None = None, spec: ChargerSpec | None = None
) -> SimStation201:
    s = SimStation201(
        spec or ChargerSpec("ST-1", connectors=1, phases=3, ocpp_version="2.0.1"),
        "ws://csms.invalid/ocpp",
        clock=SimClock(60.0),
        draw_log=DrawLog(),
        rng=random.Random(1),
        faults=faults,
    )
    s.dial = csms.dial
    s.reboot_s = 0.05
    return s


def car(max_current: float = 16.0, tag: str = "TAG-1", phases: int = 3) -> Car:
    return Car(
        "ev",
        phases=phases,
        max_current=max_current,
        battery_wh=1e7,
        soc=10,
        stay_s=1e9,
        id_tag=tag,
    )


def draw(s: SimStation201, evse: int = 1) -> tuple[float, float, float]:
    sample = s.draw_log.latest(s.spec.ocpp_id, evse)
    return (0.0, 0.0, 0.0) if sample is None else (sample.l1, sample.l2, sample.l3)


def near(s: SimStation201, amps: float, evse: int = 1) -> bool:
    return abs(max(draw(s, evse)) - amps) < 0.01


def profile(pid: int, purpose: str, amps: float, **extra: Any) -> Payload:
    """A 2.0.1 chargingProfile: one period of ``amps`` from the start."""
    period: Payload = {"startPeriod": 0, "limit": amps}
    period.update(extra.pop("period", {}))
    return {
        "id": pid,
        "stackLevel": extra.pop("stackLevel", 1),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {"id": pid, "chargingRateUnit": "A", "chargingSchedulePeriod": [period]}
        ],
        **extra,
    }


@contextlib.asynccontextmanager
async def running(s: SimStation201, tick_s: float = 0.01) -> AsyncIterator[SimStation201]:
    """The station connected to its CSMS, its physics stepping every ``tick_s``."""

    async def physics() -> None:
        while True:
            await asyncio.sleep(tick_s)
            if s.boots:
                s.step(tick_s * s.clock.speed)

    tasks = [asyncio.create_task(s.run()), asyncio.create_task(physics())]
    try:
        yield s
    finally:
        await s.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def charging(csms: StationCsms, s: SimStation201, amps: float = 16.0) -> str:
    """Boot, plug a car in, wait until it draws ``amps``: the transaction id."""
    await until(s.booted.is_set, "boot")
    s.plug_in(1, car())
    await until(lambda: bool(csms.events("Started")), "TransactionEvent Started")
    await until(lambda: near(s, amps), f"the car at {amps} A")
    tx_id = s.connectors[1].tx_id
    assert isinstance(tx_id, str)
    return tx_id


__all__ = ["PipeEnd", "Received", "StationCsms", "until"]
