"""The apply engine against a gateway that starts calls (``StartingGateway``): a wave
goes out from one task, answers are booked as they arrive, one deadline per wave."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from chargegrid.control.apply import (
    ApplyEngine,
    ApplySettings,
    EvseKey,
    Outcome,
    Setpoint,
    StepKind,
)
from chargegrid.control.ports import StartingGateway
from chargegrid.control.profiles import ChargerCaps, Limit
from chargegrid.domain.errors import ChargerTimeout, Conflict

from .fakes import FakeClock

TIMEOUT_S = 0.2


@dataclass
class Started:
    ocpp_id: str
    payload: Mapping[str, Any]
    answer: asyncio.Future[Any]

    @property
    def limit(self) -> float:
        schedule = self.payload["csChargingProfiles"]["chargingSchedule"]
        return float(schedule["chargingSchedulePeriod"][0]["limit"])


@dataclass
class StartingFake:
    """Hands back an open future per call; the test answers (or does not)."""

    offline: set[str] = field(default_factory=set)
    started: list[Started] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Mapping[str, Any]:
        raise AssertionError("a starting gateway is never asked to send")

    async def start(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Any]:
        if ocpp_id in self.offline:
            raise Conflict(f"{ocpp_id} is not connected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.started.append(Started(ocpp_id, payload, future))
        self.arrived.set()
        return future

    async def wait_for(self, count: int) -> list[Started]:
        async with asyncio.timeout(2):
            while len(self.started) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.started[:count]


def sp(charger: str, amps: float) -> Setpoint:
    return Setpoint(
        EvseKey(charger, 1), f"CP-{charger}", Limit(amps, 3), Limit(6.0, 3), ChargerCaps(), 7
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway() -> StartingFake:
    return StartingFake()


@pytest.fixture
def engine(gateway: StartingFake, clock: FakeClock) -> ApplyEngine:
    settings = ApplySettings(increase_holdoff_s=0.0, answer_timeout_s=TIMEOUT_S, car_reaction_s=0.0)
    return ApplyEngine(gateway, clock, settings)


def test_the_fake_is_taken_for_a_starting_gateway(gateway: StartingFake) -> None:
    assert isinstance(gateway, StartingGateway)


async def test_whole_wave_is_on_the_sockets_before_any_answer_is_read(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    applying = asyncio.create_task(engine.apply([sp(str(n), 10.0) for n in range(50)]))
    calls = await gateway.wait_for(50)
    assert not applying.done()
    assert [c.ocpp_id for c in calls] == [f"CP-{n}" for n in range(50)]
    # Answered one by one: each is booked the moment its answer arrives.
    for n, call in enumerate(calls):
        call.answer.set_result({"status": "Accepted"})
        await asyncio.sleep(0)
        granted = engine.granted(EvseKey(str(n), 1))
        assert granted is not None and granted.limit == Limit(10.0, 3)
        if n < 49:
            assert engine.granted(EvseKey(str(n + 1), 1)) is None
    report = await applying
    assert report.sent == 50
    assert all(o == [(StepKind.REDUCTION, Outcome.ACCEPTED)] for o in report.outcomes.values())


async def test_increases_wait_for_every_reduction_answer(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    first = asyncio.create_task(engine.apply([sp("a", 16.0), sp("b", 16.0)]))
    for call in await gateway.wait_for(2):
        call.answer.set_result({"status": "Accepted"})
    await first
    second = asyncio.create_task(engine.apply([sp("a", 10.0), sp("b", 22.0)]))
    (down,) = (await gateway.wait_for(3))[2:]
    assert (down.ocpp_id, down.limit) == ("CP-a", 10.0)
    await asyncio.sleep(0.01)
    assert len(gateway.started) == 3  # no increase before the reduction is confirmed
    down.answer.set_result({"status": "Accepted"})
    (up,) = (await gateway.wait_for(4))[3:]
    assert (up.ocpp_id, up.limit) == ("CP-b", 22.0)
    up.answer.set_result({"status": "Accepted"})
    report = await second
    assert report.outcomes[EvseKey("b", 1)] == [(StepKind.INCREASE, Outcome.ACCEPTED)]


async def test_unanswered_calls_time_out_at_the_wave_deadline_and_are_given_up(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    applying = asyncio.create_task(engine.apply([sp("a", 10.0), sp("b", 10.0), sp("c", 9.0)]))
    a, b, c = await gateway.wait_for(3)
    a.answer.set_result({"status": "Accepted"})
    b.answer.set_exception(ChargerTimeout("late"))
    report = await asyncio.wait_for(applying, TIMEOUT_S * 10)
    assert report.outcomes[EvseKey("a", 1)] == [(StepKind.REDUCTION, Outcome.ACCEPTED)]
    assert report.outcomes[EvseKey("b", 1)] == [(StepKind.REDUCTION, Outcome.TIMEOUT)]
    assert report.outcomes[EvseKey("c", 1)] == [(StepKind.REDUCTION, Outcome.TIMEOUT)]
    assert c.answer.cancelled()  # the gateway forgets the call
    assert set(engine.flags()) == {"b", "c"}
    assert report.reductions_failed


async def test_offline_refused_and_rejected_outcomes(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    gateway.offline.add("CP-x")
    applying = asyncio.create_task(engine.apply([sp("x", 10.0), sp("y", 10.0), sp("z", 10.0)]))
    y, z = await gateway.wait_for(2)
    y.answer.set_result({"status": "Rejected"})
    z.answer.set_exception(RuntimeError("a CallError"))
    report = await applying
    assert report.outcomes[EvseKey("x", 1)] == [(StepKind.REDUCTION, Outcome.OFFLINE)]
    assert report.outcomes[EvseKey("y", 1)] == [(StepKind.REDUCTION, Outcome.REJECTED)]
    assert report.outcomes[EvseKey("z", 1)] == [(StepKind.REDUCTION, Outcome.REJECTED)]
    assert engine.is_offline("x") and not engine.steerable("y")
    assert engine.granted(EvseKey("y", 1)) is None


async def test_a_stopped_round_gives_up_its_calls_and_books_nothing(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    applying = asyncio.create_task(engine.apply([sp("a", 10.0), sp("b", 10.0)]))
    a, b = await gateway.wait_for(2)
    applying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await applying
    assert a.answer.cancelled() and b.answer.cancelled()
    assert engine.granted(EvseKey("a", 1)) is None and not engine.flags()


async def test_link_dropping_mid_wave_books_the_higher_limit(
    engine: ApplyEngine, gateway: StartingFake
) -> None:
    """Issue 11, first form: a call that left our socket may have been applied before
    the link dropped; the charger counts at the higher of old and new until it
    acknowledges something lower."""
    applying = asyncio.create_task(engine.apply([sp("a", 10.0)]))
    (a,) = await gateway.wait_for(1)
    a.answer.set_result({"status": "Accepted"})
    await applying
    applying = asyncio.create_task(engine.apply([sp("a", 16.0)]))
    (_, a2) = await gateway.wait_for(2)
    a2.answer.set_exception(Conflict("went offline before answering"))
    report = await applying
    assert report.outcomes[EvseKey("a", 1)] == [(StepKind.INCREASE, Outcome.OFFLINE)]
    assert engine.is_offline("a")
    # It may have applied 16 A; with no failsafe known it may also have rebooted onto
    # nothing at all: unknown, counted at its hardware maximum.
    assert engine.committed(EvseKey("a", 1), 7) is None
    assert engine.granted(EvseKey("a", 1)) is not None
    assert engine.granted(EvseKey("a", 1)).limit == Limit(16.0, 3)  # type: ignore[union-attr]
