"""The remaining field faults on a 2.0.1 station, with the same physical meaning as on
the 1.6 charger: silence after the socket opens, ignored calls before the boot, late
answers, link drops, cars that ignore their limit or take their time to follow a cut."""

from __future__ import annotations

import time

import pytest
from station_csms import StationCsms, car, charging, near, profile, running, station, until

from chargegrid.sim.faults import Faults


async def test_boot_delay_is_silent_until_a_boot_trigger() -> None:
    csms = StationCsms()
    s = station(csms, Faults(boot_delay_s=30.0))
    async with running(s):
        await until(lambda: len(csms.connections) == 1, "connected")
        answer = await csms.call("TriggerMessage", {"requestedMessage": "BootNotification"})
        assert answer["status"] == "Accepted"
        await until(s.booted.is_set, "booted at once after the trigger", timeout=2)
    assert csms.actions()[0] == "BootNotification"


async def test_calls_before_boot_ignore_never_answers() -> None:
    csms = StationCsms()
    csms.boot_status = "Pending"
    s = station(csms, Faults(calls_before_boot="ignore"))
    async with running(s):
        await until(lambda: bool(csms.of("BootNotification")), "a boot")
        with pytest.raises(TimeoutError):
            await csms.call("Reset", {"type": "Immediate"}, timeout=0.3)
        assert s.calls_before_registration["Reset"] == 1


async def test_answer_delay() -> None:
    csms = StationCsms()
    s = station(csms, Faults(answer_delay_s=0.3))
    async with running(s):
        await until(s.booted.is_set, "boot")
        t0 = time.monotonic()
        await csms.call("ClearCache", {})
        assert time.monotonic() - t0 >= 0.3


async def test_drop_link_every_reconnects_without_rebooting() -> None:
    csms = StationCsms()
    s = station(csms, Faults(drop_link_every_s=0.2))
    async with running(s):
        await charging(csms, s)
        await until(lambda: len(csms.connections) >= 3, "dropped and back twice")
        assert near(s, 16.0)  # charging on through it
    assert len(csms.of("BootNotification")) == 1
    assert len(csms.events("Started")) == 1


async def test_ignore_limits_draws_the_cars_max_under_a_profile() -> None:
    csms = StationCsms()
    s = station(csms, Faults(ignore_limits=1.0, ignore_for_s=1e6))
    async with running(s):
        await until(s.booted.is_set, "boot")
        await csms.call(
            "SetChargingProfile",
            {"evseId": 0, "chargingProfile": profile(1, "TxDefaultProfile", 8)},
        )
        s.plug_in(1, car(max_current=16.0))
        await until(lambda: near(s, 16.0), "the car at its own max")
        sample = s.draw_log.latest("ST-1", 1)
        assert sample is not None and sample.limit == 8.0  # what the station applied


async def test_car_reaction_keeps_the_draw_after_a_cut() -> None:
    csms = StationCsms()
    s = station(csms, Faults(car_reaction_s=60.0))  # one real second at speed 60
    async with running(s):
        tx_id = await charging(csms, s)
        await csms.call(
            "SetChargingProfile",
            {"evseId": 1, "chargingProfile": profile(1, "TxProfile", 8, transactionId=tx_id)},
        )
        cut = time.monotonic()
        await until(lambda: near(s, 8.0), "the car follows after its reaction time", 4)
        assert time.monotonic() - cut >= 0.9
