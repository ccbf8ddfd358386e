"""A fake command gateway and a fake clock for the control loop's unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid.domain.errors import ChargerTimeout, Conflict


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.epoch = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def utcnow(self) -> datetime:
        return self.epoch + timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Call:
    ocpp_id: str
    action: str
    payload: Mapping[str, Any]
    wave_open: int  # calls still unanswered when this one was made

    @property
    def profile(self) -> Mapping[str, Any]:
        p = self.payload.get("csChargingProfiles") or self.payload["chargingProfile"]
        assert isinstance(p, Mapping)
        return p

    @property
    def limit(self) -> float:
        schedule = self.profile["chargingSchedule"]
        if isinstance(schedule, list):
            schedule = schedule[0]
        return float(schedule["chargingSchedulePeriod"][0]["limit"])

    @property
    def phases(self) -> int:
        schedule = self.profile["chargingSchedule"]
        if isinstance(schedule, list):
            schedule = schedule[0]
        return int(schedule["chargingSchedulePeriod"][0]["numberPhases"])


@dataclass
class FakeGateway:
    """Answers every call by ``behaviour[ocpp_id]``: accept, reject, timeout, offline.

    Each call yields to the loop once before it answers, so calls in one wave overlap
    and ``Call.wave_open`` shows which calls were in flight together.
    """

    behaviour: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    on_call: Callable[[Call], None] | None = None
    _open: int = 0

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Mapping[str, Any]:
        call = Call(ocpp_id, action, payload, self._open)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        self._open += 1
        try:
            await asyncio.sleep(0)
            mode = self.behaviour.get(ocpp_id, "accept")
            if mode == "offline":
                raise Conflict(f"{ocpp_id} is not connected")
            if mode == "timeout":
                raise ChargerTimeout(f"{ocpp_id} did not answer")
            return {"status": "Accepted" if mode == "accept" else "Rejected"}
        finally:
            self._open -= 1

    def limits_for(self, ocpp_id: str) -> list[float]:
        return [c.limit for c in self.calls if c.ocpp_id == ocpp_id]
