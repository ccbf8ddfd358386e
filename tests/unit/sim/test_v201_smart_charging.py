"""2.0.1 charging profiles on the shared profile stack, judged by what the car PHYSICALLY
draws (the DrawLog): TxProfile, TxDefaultProfile, ChargingStationMaxProfile, phaseToUse,
and the faults that touch profiles."""

from __future__ import annotations

import time

from station_csms import (
    StationCsms,
    car,
    charging,
    draw,
    near,
    profile,
    running,
    station,
    until,
)

from chargegrid.domain.phases import PhaseRotation
from chargegrid.sim.faults import Faults
from chargegrid.sim.state import ChargerSpec


async def set_profile(csms: StationCsms, evse: int, body: dict[str, object]) -> dict[str, object]:
    return await csms.call("SetChargingProfile", {"evseId": evse, "chargingProfile": body})


async def test_a_tx_profile_limits_the_draw_and_ends_with_its_transaction() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        tx_id = await charging(csms, s)
        no_tx = await set_profile(csms, 1, profile(5, "TxProfile", 8))
        assert no_tx["status"] == "Rejected"  # a TxProfile names its transaction
        wrong = await set_profile(csms, 1, profile(5, "TxProfile", 8, transactionId="other"))
        assert wrong["status"] == "Rejected"
        ok = await set_profile(csms, 1, profile(5, "TxProfile", 8, transactionId=tx_id))
        assert ok["status"] == "Accepted"
        await until(lambda: near(s, 8.0), "the car at 8 A")
        s.leave(1)
        assert not s.profiles.profiles


async def test_station_max_profile_on_evse_0_caps_and_tx_default_limits() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        on_evse = await set_profile(csms, 1, profile(1, "ChargingStationMaxProfile", 10))
        assert on_evse["status"] == "Rejected"
        assert (await set_profile(csms, 0, profile(1, "TxDefaultProfile", 12)))["status"] == (
            "Accepted"
        )
        await charging(csms, s, 12.0)
        assert (await set_profile(csms, 0, profile(2, "ChargingStationMaxProfile", 10)))[
            "status"
        ] == "Accepted"
        await until(lambda: near(s, 10.0), "the station cap")
        clear = await csms.call(
            "ClearChargingProfile",
            {"chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationMaxProfile"}},
        )
        assert clear["status"] == "Accepted"
        await until(lambda: near(s, 12.0), "back at the TxDefault 12 A")
        again = await csms.call("ClearChargingProfile", {"chargingProfileId": 2})
        assert again["status"] == "Unknown"


async def test_external_constraints_and_unknown_evses_are_rejected() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        await until(s.booted.is_set, "boot")
        ext = await set_profile(csms, 0, profile(1, "ChargingStationExternalConstraints", 10))
        assert ext["status"] == "Rejected"
        unknown = await set_profile(csms, 7, profile(1, "TxDefaultProfile", 10))
        assert unknown["status"] == "Rejected"
        composite = await csms.call("GetCompositeSchedule", {"duration": 60, "evseId": 7})
        assert composite["status"] == "Rejected"


async def test_phase_to_use_moves_a_one_phase_car_to_that_grid_phase() -> None:
    csms = StationCsms()
    s = station(csms, spec=ChargerSpec("ST-P", rotations=("STR",), ocpp_version="2.0.1"))
    async with running(s):
        await until(s.booted.is_set, "boot")
        period = {"numberPhases": 1, "phaseToUse": 3}
        answer = await set_profile(csms, 1, profile(1, "TxDefaultProfile", 10, period=period))
        assert answer["status"] == "Accepted"
        s.plug_in(1, car(phases=1))
        await until(lambda: near(s, 10.0), "the car at 10 A")
    # Conductor 3 of an STR connector is grid L1 (R); without phaseToUse a 1-phase car
    # draws on conductor 1, grid L2 (S).
    assert PhaseRotation.parse("STR").target(3).index == 0
    assert draw(s) == (10.0, 0.0, 0.0)
    c = s.connectors[1]
    assert c.car is not None
    reading = s._reading(c, c.car)
    currents = [(v["phase"], v["value"]) for v in reading if v["measurand"] == "Current.Import"]
    assert currents == [("L1", "0.00"), ("L2", "0.00"), ("L3", "10.00")]  # conductor 3


async def test_without_phase_to_use_a_one_phase_car_draws_on_the_first_conductor() -> None:
    csms = StationCsms()
    s = station(csms, spec=ChargerSpec("ST-P", rotations=("STR",), ocpp_version="2.0.1"))
    async with running(s):
        await until(s.booted.is_set, "boot")
        answer = await set_profile(
            csms, 1, profile(1, "TxDefaultProfile", 10, period={"numberPhases": 1})
        )
        assert answer["status"] == "Accepted"
        s.plug_in(1, car(phases=1))
        await until(lambda: near(s, 10.0), "the car at 10 A")
    assert draw(s) == (0.0, 10.0, 0.0)


async def test_phase_to_use_is_rejected_without_phase_switching() -> None:
    csms = StationCsms()
    s = station(csms, spec=ChargerSpec("ST-N", ocpp_version="2.0.1", ac_phase_switching=False))
    async with running(s):
        await until(s.booted.is_set, "boot")
        period = {"numberPhases": 1, "phaseToUse": 2}
        answer = await set_profile(csms, 1, profile(1, "TxDefaultProfile", 10, period=period))
        assert answer["status"] == "Rejected"
        three = {"numberPhases": 3, "phaseToUse": 2}
        s.device.find("SmartChargingCtrlr", "ACPhaseSwitchingSupported", evse=1).value = "true"
        assert (await set_profile(csms, 1, profile(2, "TxDefaultProfile", 10, period=three)))[
            "status"
        ] == "Rejected"
    assert (
        s.variable("SmartChargingCtrlr", "ACPhaseSwitchingSupported", evse=1) == "true"
    )  # changed by the test only; the CSMS cannot (ReadOnly)


async def test_ignore_tx_default_profile_fault_draws_the_cars_max() -> None:
    csms = StationCsms()
    s = station(csms, Faults(ignore_tx_default_profile=True))
    async with running(s):
        await until(s.booted.is_set, "boot")
        answer = await set_profile(csms, 0, profile(1, "TxDefaultProfile", 8))
        assert answer["status"] == "Accepted"
        await charging(csms, s, 16.0)


async def test_refuse_profiles_fault_keeps_the_old_limit() -> None:
    csms = StationCsms()
    s = station(csms, Faults(refuse_profiles=1.0))
    async with running(s):
        tx_id = await charging(csms, s)
        answer = await set_profile(csms, 1, profile(1, "TxProfile", 8, transactionId=tx_id))
        assert answer["status"] == "Rejected"
        assert near(s, 16.0)


async def test_tx_profiles_are_lost_on_a_reboot_unless_kept() -> None:
    for keep in (False, True):
        csms = StationCsms()
        s = station(csms, Faults(resume_after_reboot=True, keep_profiles_on_reboot=keep))
        async with running(s):
            tx_id = await charging(csms, s)
            await set_profile(csms, 1, profile(1, "TxProfile", 8, transactionId=tx_id))
            await set_profile(csms, 0, profile(2, "TxDefaultProfile", 12))
            await until(lambda s=s: near(s, 8.0), "8 A")
            s.power_cycle()
            await until(lambda s=s: s.boots == 2, "rebooted")
            want = 8.0 if keep else 12.0
            await until(lambda s=s, want=want: near(s, want), f"{want} A after the reboot")


async def test_start_before_profile_draws_before_any_profile_within_3_s() -> None:
    csms = StationCsms()
    s = station(csms, Faults(start_before_profile=True))
    s.new_car = car
    async with running(s):
        await until(s.booted.is_set, "boot")
        await until(lambda: bool(csms.events("Started")), "a start after the boot", timeout=5)
        await until(lambda: near(s, 16.0), "the car at its max")
    assert not s.profiles.profiles


async def test_get_charging_profiles_reports_and_composite_schedule() -> None:
    csms = StationCsms()
    s = station(csms)
    async with running(s):
        tx_id = await charging(csms, s)
        await set_profile(csms, 0, profile(1, "TxDefaultProfile", 12))
        await set_profile(csms, 1, profile(2, "TxProfile", 8, transactionId=tx_id))
        none = await csms.call(
            "GetChargingProfiles",
            {
                "requestId": 1,
                "chargingProfile": {"chargingProfilePurpose": "ChargingStationMaxProfile"},
            },
        )
        assert none["status"] == "NoProfiles"
        ok = await csms.call("GetChargingProfiles", {"requestId": 2, "chargingProfile": {}})
        assert ok["status"] == "Accepted"
        await until(lambda: len(csms.of("ReportChargingProfiles")) == 2, "two reports")
        reports = csms.of("ReportChargingProfiles")
        assert [(r["evseId"], r["tbc"]) for r in reports] == [(0, True), (1, False)]
        assert reports[1]["chargingProfile"][0]["transactionId"] == tx_id
        composite = await csms.call(
            "GetCompositeSchedule", {"duration": 300, "evseId": 1, "chargingRateUnit": "W"}
        )
        assert composite["status"] == "Accepted"
        schedule = composite["schedule"]
        assert schedule["evseId"] == 1
        assert schedule["chargingRateUnit"] == "W"
        assert schedule["chargingSchedulePeriod"][0] == {"startPeriod": 0, "limit": 8 * 230 * 3}


async def test_live_profile_delay_after_reconnect_answers_late_above_level_0() -> None:
    csms = StationCsms()
    s = station(csms, Faults(live_profile_delay_after_reconnect_s=1.0))
    async with running(s):
        tx_id = await charging(csms, s)
        s.drop_link()
        await until(lambda: len(csms.connections) == 2 and s.registered, "reconnected")
        await until(lambda: bool(csms.of("StatusNotification")), "speaking again")
        failsafe = profile(1, "TxDefaultProfile", 10, stackLevel=0)
        live = profile(2, "TxProfile", 8, transactionId=tx_id, stackLevel=2)
        t0 = time.monotonic()
        assert (await set_profile(csms, 0, failsafe))["status"] == "Accepted"
        assert time.monotonic() - t0 < 0.8
        assert (await set_profile(csms, 1, live))["status"] == "Accepted"
        assert time.monotonic() - t0 >= 1.0
        await until(lambda: near(s, 8.0), "8 A once answered")
