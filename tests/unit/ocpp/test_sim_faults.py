"""The simulated charger's field behaviours (sim/faults.py), against a scripted central
system over an in-memory pipe; judged by what it sends and by what its car PHYSICALLY
draws (the DrawLog), never by what it reports."""

from __future__ import annotations

import time

import pytest
from sim_csms import ScriptedCsms, profile, running, sim_charger, until

from chargegrid.ocpp.errors import CallErrorReceived
from chargegrid.sim.car import Car
from chargegrid.sim.charger import SimCharger
from chargegrid.sim.faults import Faults
from chargegrid.sim.metering import sampled_values


def car(max_current: float = 16.0, tag: str = "TAG-1") -> Car:
    return Car(
        "ev", phases=3, max_current=max_current, battery_wh=1e7, soc=10, stay_s=1e9, id_tag=tag
    )


def drawing(charger: SimCharger) -> float:
    sample = charger.draw_log.latest(charger.spec.ocpp_id, 1)
    return 0.0 if sample is None else max(sample.l1, sample.l2, sample.l3)


def near(charger: SimCharger, amps: float) -> bool:
    return abs(drawing(charger) - amps) < 0.01


async def charging(csms: ScriptedCsms, charger: SimCharger, amps: float = 16.0) -> int:
    """Boot, plug a car in, wait until it draws ``amps``; the transaction id."""
    await until(charger.booted.is_set, "boot")
    charger.config["MeterValueSampleInterval"] = "10"
    charger.plug_in(1, car())
    await until(lambda: charger.connectors[1].tx_id is not None, "StartTransaction answered")
    await until(lambda: near(charger, amps), f"the car at {amps} A")
    tx_id = charger.connectors[1].tx_id
    assert tx_id is not None
    return tx_id


async def set_profile(csms: ScriptedCsms, connector: int, body: dict[str, object]) -> str:
    answer = await csms.current.call(
        "SetChargingProfile", {"connectorId": connector, "csChargingProfiles": body}, 2
    )
    return str(answer["status"])


async def test_stop_transaction_goes_before_the_status_that_follows_it() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms)
    async with running(charger):
        await charging(csms, charger)
        charger.leave(1)
        await until(
            lambda: any(
                r.action == "StatusNotification" and r.payload["status"] == "Available"
                for r in csms.received[-3:]
            ),
            "Available reported",
        )
    order = [
        r.action if r.action != "StatusNotification" else r.payload["status"]
        for r in csms.received
        if r.action in ("StopTransaction", "StatusNotification")
    ]
    assert order[-2:] == ["StopTransaction", "Available"]


async def test_a_tx_profile_right_behind_the_start_answer_is_accepted() -> None:
    """A CSMS may send the TxProfile the moment it has answered StartTransaction; the
    charger reads its socket in order, so it knows the transaction id by then."""
    csms = ScriptedCsms()
    csms.tx_profile_behind_start = 8.0
    charger = sim_charger(csms)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        charger.plug_in(1, car())
        await until(lambda: csms.answer_to("behind-start") is not None, "the profile's answer")
        assert csms.answer_to("behind-start") == {"status": "Accepted"}
        await until(lambda: near(charger, 8.0), "the car at the TxProfile's 8 A")


# -- refused starts -------------------------------------------------------------------


async def test_refused_start_stops_deauthorized_and_the_car_leaves() -> None:
    csms = ScriptedCsms()
    csms.start_status = "ConcurrentTx"
    charger = sim_charger(csms)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        charger.plug_in(1, car())
        await until(lambda: bool(csms.of("StopTransaction")), "StopTransaction")
        (stop,) = csms.of("StopTransaction")
        (start,) = csms.of("StartTransaction")
        assert stop["reason"] == "DeAuthorized"
        assert stop["transactionId"] == 100  # the id the refusal came with
        assert start["idTag"] == stop["idTag"] == "TAG-1"
        await until(lambda: charger.connectors[1].status == "Finishing", "Finishing")
        await until(lambda: charger.connectors[1].car is None, "the driver unplugs", timeout=3)

        def statuses() -> list[str]:
            return [p["status"] for p in csms.of("StatusNotification") if p["connectorId"] == 1]

        await until(lambda: statuses()[-1] == "Available", "Available reported")
        assert statuses()[-2:] == ["Finishing", "Available"]
        assert "Charging" not in statuses()[statuses().index("Finishing") :]
    # It drew while the answer was on its way, then never again.
    series = charger.draw_log.series("SIM-T", 1)
    assert series and max(series[-1].l1, series[-1].l2, series[-1].l3) == 0.0


async def test_refused_authorize_never_starts() -> None:
    csms = ScriptedCsms()
    csms.authorize_status = "Blocked"
    charger = sim_charger(csms)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        charger.plug_in(1, car())
        await until(lambda: charger.connectors[1].status == "Finishing", "Finishing")
        await until(lambda: charger.connectors[1].car is None, "the driver unplugs", timeout=3)
        await until(lambda: charger.connectors[1].status == "Available", "Available")
    assert csms.of("StartTransaction") == []
    assert charger.draw_log.series("SIM-T", 1)[-1].l1 == 0.0
    assert all(s.l1 == s.l2 == s.l3 == 0.0 for s in charger.draw_log.samples)


async def test_charge_after_refused_start_draws_on_without_a_stop() -> None:
    csms = ScriptedCsms()
    csms.start_status = "Invalid"
    charger = sim_charger(csms, Faults(charge_after_refused_start=True))
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        charger.config["MeterValueSampleInterval"] = "10"
        charger.plug_in(1, car())
        await until(lambda: bool(csms.of("StartTransaction")), "StartTransaction")
        await until(lambda: charger.connectors[1].drawing_without_tx, "the refusal")
        await until(lambda: near(charger, 16.0), "the car at 16 A regardless")
        meter_sent = len(csms.of("MeterValues"))
        await until(lambda: len(csms.of("MeterValues")) > meter_sent + 1, "meter values")
        # The charger forgot the transaction: TxProfiles are refused, meter values
        # carry no transactionId, and the car keeps drawing its full 16 A.
        assert await set_profile(csms, 1, profile(5, "TxProfile", 6.0)) == "Rejected"
        assert "transactionId" not in csms.of("MeterValues")[-1]
        assert near(charger, 16.0)
        assert charger.connectors[1].status == "Charging"
        charger.leave(1)
        await until(lambda: charger.connectors[1].status == "Available", "Available")
    assert csms.of("StopTransaction") == []


# -- reboots --------------------------------------------------------------------------


async def reset_hard(csms: ScriptedCsms, charger: SimCharger) -> None:
    answer = await csms.current.call("Reset", {"type": "Hard"}, 2)
    assert answer == {"status": "Accepted"}
    await until(lambda: not charger.powered, "the charger going down")
    await until(lambda: charger.boots == 2, "the second boot")


async def test_hard_reset_ends_the_transaction_after_boot_and_loses_tx_profiles() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
        tx_id = await charging(csms, charger, 10.0)
        assert await set_profile(csms, 1, profile(2, "TxProfile", 8.0)) == "Accepted"
        await until(lambda: near(charger, 8.0), "the car at its 8 A TxProfile")
        down_at = time.monotonic()
        await reset_hard(csms, charger)
        await until(lambda: bool(csms.of("StopTransaction")), "StopTransaction")
        second = csms.actions(connection=2)
        assert second[0] == "BootNotification"
        assert second.index("StopTransaction") > 0
        (stop,) = csms.of("StopTransaction")
        assert (stop["transactionId"], stop["reason"]) == (tx_id, "HardReset")
        # TxDefaultProfile is persisted, the TxProfile is not (it ended anyway).
        assert [p.purpose for p in charger.profiles.profiles] == ["TxDefaultProfile"]
        assert charger.connectors[1].status == "Preparing"  # a new start needs a new swipe
    # The contactor opened during the reboot and stayed open (no transaction).
    after = [s for s in charger.draw_log.series("SIM-T", 1) if s.t >= down_at]
    assert after and all(s.l1 == 0.0 for s in after[1:])


async def test_resume_after_reboot_keeps_the_transaction_and_kept_profiles() -> None:
    csms = ScriptedCsms()
    faults = Faults(resume_after_reboot=True, keep_profiles_on_reboot=True)
    charger = sim_charger(csms, faults)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
        tx_id = await charging(csms, charger, 10.0)
        assert await set_profile(csms, 1, profile(2, "TxProfile", 6.3)) == "Accepted"
        await until(lambda: near(charger, 6.3), "the car at its 6.3 A TxProfile")
        down_at = time.monotonic()
        await reset_hard(csms, charger)
        await until(
            lambda: any(r.connection == 2 and r.action == "MeterValues" for r in csms.received),
            "meter values after the reboot",
        )
        after = [r.payload for r in csms.received if r.connection == 2]
        assert csms.actions(connection=2)[0] == "BootNotification"
        assert all(p["transactionId"] == tx_id for p in after if "meterValue" in p)
        await until(lambda: near(charger, 6.3), "the car back at 6.3 A (TxProfile kept)")
        assert csms.of("StopTransaction") == []
        assert len(csms.of("StartTransaction")) == 1
    series = [s for s in charger.draw_log.series("SIM-T", 1) if s.t >= down_at]
    assert min(s.l1 for s in series) == 0.0  # no power while rebooting
    assert max(s.l1 for s in series) <= 6.3 + 1e-9  # never above the kept profile


async def test_resume_without_kept_profiles_falls_back_to_the_default() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(resume_after_reboot=True))
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
        tx_id = await charging(csms, charger, 10.0)
        assert await set_profile(csms, 1, profile(2, "TxProfile", 6.0)) == "Accepted"
        await until(lambda: near(charger, 6.0), "the car at 6 A")
        await reset_hard(csms, charger)
        await until(lambda: near(charger, 10.0), "the car at its TxDefaultProfile's 10 A")
        assert charger.connectors[1].tx_id == tx_id
        assert csms.of("StopTransaction") == []


async def test_power_cut_ends_the_transaction_with_power_loss() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms)
    async with running(charger):
        tx_id = await charging(csms, charger)
        charger.power_cycle()
        await until(lambda: charger.boots == 2, "the second boot")
        await until(lambda: bool(csms.of("StopTransaction")), "StopTransaction")
        (stop,) = csms.of("StopTransaction")
        assert (stop["transactionId"], stop["reason"]) == (tx_id, "PowerLoss")


async def test_soft_reset_stops_before_going_down() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(resume_after_reboot=True))
    async with running(charger):
        tx_id = await charging(csms, charger)
        await csms.current.call("Reset", {"type": "Soft"}, 2)
        await until(lambda: charger.boots == 2, "the second boot")
        (stop,) = csms.of("StopTransaction")
        assert (stop["transactionId"], stop["reason"]) == (tx_id, "SoftReset")
        assert [r.connection for r in csms.received if r.action == "StopTransaction"] == [1]


# -- boot and registration ----------------------------------------------------------


async def test_start_before_profile_draws_within_seconds_of_boot() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(start_before_profile=True))
    charger.new_car = lambda: car(max_current=32.0, tag="EARLY")
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        booted_at = time.monotonic()
        await until(lambda: bool(csms.of("StartTransaction")), "an early start", timeout=5)
        started_after = time.monotonic() - booted_at
        assert 0.9 <= started_after <= 3.5
        assert csms.of("StartTransaction")[0]["idTag"] == "EARLY"
        await until(lambda: near(charger, 32.0), "the car at its own 32 A, no profile")
        sample = charger.draw_log.latest("SIM-T", 1)
        assert sample is not None and sample.limit == 32.0
        # A persisted TxDefaultProfile is all that limits it after a power cut.
        assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
        cut_at = time.monotonic()
        charger.power_cycle()
        await until(lambda: charger.boots == 2, "the second boot")
        await until(lambda: len(csms.of("StartTransaction")) == 2, "a start after the reboot")
        assert csms.of("StopTransaction")[0]["reason"] == "PowerLoss"
        await until(lambda: near(charger, 10.0), "the restarted car at the persisted 10 A")
        after = [s for s in charger.draw_log.series("SIM-T", 1) if s.t > cut_at]
        assert after and all(s.l1 <= 10.0 for s in after)


@pytest.mark.parametrize("mode", ["security_error", "ignore"])
async def test_calls_before_registration_are_refused(mode: str) -> None:
    csms = ScriptedCsms()
    csms.boot_status = "Pending"
    charger = sim_charger(csms, Faults(calls_before_boot=mode))  # type: ignore[arg-type]
    async with running(charger):
        await until(lambda: bool(csms.of("BootNotification")), "BootNotification")
        if mode == "security_error":
            with pytest.raises(CallErrorReceived) as refused:
                await csms.current.call("GetConfiguration", {}, 2)
            assert refused.value.code == "SecurityError"
        else:
            with pytest.raises(TimeoutError):
                await csms.current.call("GetConfiguration", {}, 0.3)
        # A trigger for the boot is answered and acted upon at once.
        csms.boot_status = "Accepted"
        answer = await csms.current.call(
            "TriggerMessage", {"requestedMessage": "BootNotification"}, 2
        )
        assert answer["status"] == "Accepted"
        await until(charger.booted.is_set, "the triggered boot", timeout=1)
        config = await csms.current.call("GetConfiguration", {"key": ["HeartbeatInterval"]}, 2)
        assert config["configurationKey"][0]["value"] == "300"


async def test_boot_delay_is_silent_until_triggered() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(boot_delay_s=60.0))
    async with running(charger):
        await until(lambda: bool(csms.connections), "the socket")
        connected_at = time.monotonic()
        # Calls are answered (calls_before_boot="answer"), but it says nothing itself.
        await csms.current.call("GetConfiguration", {}, 2)
        assert csms.received == []
        await csms.current.call("TriggerMessage", {"requestedMessage": "BootNotification"}, 2)
        await until(charger.booted.is_set, "the triggered boot", timeout=1)
        assert time.monotonic() - connected_at < 1.0
        assert csms.actions()[0] == "BootNotification"


async def test_boot_delay_then_boots_by_itself() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(boot_delay_s=0.4))
    async with running(charger):
        await until(lambda: bool(csms.connections), "the socket")
        connected_at = time.monotonic()
        await until(lambda: bool(csms.received), "its first message", timeout=2)
        assert time.monotonic() - connected_at >= 0.35
        assert csms.actions()[0] == "BootNotification"


async def test_reconnect_without_reboot_does_not_boot_again() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms)
    async with running(charger):
        tx_id = await charging(csms, charger)
        await csms.current.close()  # the link drops; the charger keeps charging
        await until(lambda: len(csms.connections) == 2, "the reconnect")
        await until(lambda: bool(csms.actions(connection=2)), "a message on the new link")
        assert csms.actions(connection=2)[0] == "StatusNotification"
        assert "BootNotification" not in csms.actions(connection=2)
        assert charger.boots == 1 and charger.connectors[1].tx_id == tx_id
        assert near(charger, 16.0)


async def test_triggered_boot_when_registered_sends_one() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms)
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        await csms.current.call("TriggerMessage", {"requestedMessage": "BootNotification"}, 2)
        await until(lambda: len(csms.of("BootNotification")) == 2, "a second BootNotification")


# -- what it draws and what it reports ---------------------------------------------


async def test_ignore_tx_default_profile_draws_above_it() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(ignore_tx_default_profile=True))
    async with running(charger):
        await until(charger.booted.is_set, "boot")
        assert await set_profile(csms, 0, profile(1, "TxDefaultProfile", 10.0)) == "Accepted"
        await charging(csms, charger, 16.0)  # the stored 10 A default changes nothing
        assert await set_profile(csms, 1, profile(2, "TxProfile", 8.0)) == "Accepted"
        await until(lambda: near(charger, 8.0), "the TxProfile obeyed")
        assert await set_profile(csms, 0, profile(3, "ChargePointMaxProfile", 6.0)) == "Accepted"
        await until(lambda: near(charger, 6.0), "the ChargePointMaxProfile obeyed")


async def test_ignore_limits_draws_above_the_acknowledged_limit() -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(ignore_limits=1.0, ignore_for_s=1e9))
    async with running(charger):
        await charging(csms, charger, 16.0)
        assert await set_profile(csms, 1, profile(2, "TxProfile", 8.0)) == "Accepted"
        await until(
            lambda: (s := charger.draw_log.latest("SIM-T", 1)) is not None and s.limit == 8.0,
            "the limit applied",
        )
        sample = charger.draw_log.latest("SIM-T", 1)
        assert sample is not None and sample.l1 == 16.0  # physically above its 8 A


@pytest.mark.parametrize(
    ("report", "measurands"),
    [
        ("power", {("Energy.Active.Import.Register", None), ("Power.Active.Import", None)}),
        (
            "phase_power",
            {
                ("Energy.Active.Import.Register", None),
                ("Power.Active.Import", "L1"),
                ("Power.Active.Import", "L2"),
                ("Power.Active.Import", "L3"),
            },
        ),
    ],
)
async def test_power_only_meters_never_send_current(report: str, measurands: set[object]) -> None:
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(meter_report=report))  # type: ignore[arg-type]
    async with running(charger):
        await charging(csms, charger, 16.0)
        await until(lambda: len(csms.of("MeterValues")) >= 3, "meter values")
    sampled = csms.of("MeterValues")[-1]["meterValue"][0]["sampledValue"]
    assert {(s["measurand"], s.get("phase")) for s in sampled} == measurands
    watts = sum(float(s["value"]) for s in sampled if s["measurand"] == "Power.Active.Import")
    assert watts == pytest.approx(16.0 * 3 * 230.0, rel=0.01)


def test_meter_readings_of_a_one_phase_car_on_a_three_phase_charger() -> None:
    current = sampled_values(
        "current", amps=10.0, conductors=1, phases_wired=3, register_wh=5.0, soc=50.0
    )
    assert [s["value"] for s in current if s["measurand"] == "Current.Import"] == [
        "10.00",
        "0.00",
        "0.00",
    ]
    phase_power = sampled_values(
        "phase_power", amps=10.0, conductors=1, phases_wired=3, register_wh=5.0, soc=50.0
    )
    assert [s["value"] for s in phase_power if s["measurand"] == "Power.Active.Import"] == [
        "2300.0",
        "0.0",
        "0.0",
    ]


async def test_calls_before_registration_are_counted() -> None:
    csms = ScriptedCsms()
    csms.boot_status = "Pending"
    charger = sim_charger(csms, Faults(calls_before_boot="ignore"))
    async with running(charger):
        await until(lambda: bool(csms.of("BootNotification")), "BootNotification")
        with pytest.raises(TimeoutError):
            await csms.current.call("GetConfiguration", {}, 0.2)
        csms.boot_status = "Accepted"
        await csms.current.call("TriggerMessage", {"requestedMessage": "BootNotification"}, 2)
        await until(charger.booted.is_set, "the triggered boot", timeout=1)
        await csms.current.call("GetConfiguration", {}, 2)  # registered: not counted
    assert dict(charger.calls_before_registration) == {"GetConfiguration": 1, "TriggerMessage": 1}


async def test_live_profiles_answered_late_after_a_reconnect() -> None:
    """A link drop, then a live limit (stack level 1) is answered and obeyed only after
    the delay; a failsafe (stack level 0) at once. Before the drop, both at once."""
    csms = ScriptedCsms()
    charger = sim_charger(csms, Faults(live_profile_delay_after_reconnect_s=0.5))
    async with running(charger):
        tx_id = await charging(csms, charger)
        tx = profile(2, "TxProfile", 12.0, transactionId=tx_id)
        started = time.monotonic()
        assert await set_profile(csms, 1, tx) == "Accepted"
        assert time.monotonic() - started < 0.3
        await until(lambda: near(charger, 12.0), "the car at 12 A")
        charger.drop_link()
        await until(lambda: charger.connected_count == 2, "the reconnect")
        await until(lambda: len(csms.connections) == 2, "the new link")
        failsafe = profile(1, "TxDefaultProfile", 6.0, stackLevel=0)
        started = time.monotonic()
        assert await set_profile(csms, 1, failsafe) == "Accepted"
        assert time.monotonic() - started < 0.3
        with pytest.raises(TimeoutError):
            await csms.current.call(
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": {**tx, "chargingProfileId": 3}},
                0.2,
            )
        lower = profile(4, "TxProfile", 8.0, transactionId=tx_id)
        assert near(charger, 12.0)  # not obeyed while unanswered
        assert await set_profile(csms, 1, lower) == "Accepted"  # 0.5 s later
        assert charger.boots == 1  # a reconnect, not a reboot
        await until(lambda: near(charger, 8.0), "the late profile obeyed")
