"""The apply engine against a fake gateway and a fake clock."""

from __future__ import annotations

import pytest

from chargegrid.control.apply import (
    ApplyEngine,
    ApplySettings,
    EvseKey,
    FailsafeTarget,
    Outcome,
    Setpoint,
    StepKind,
)
from chargegrid.control.profiles import ChargerCaps, Limit

from .fakes import FakeClock, FakeGateway

CAPS = ChargerCaps()
FAILSAFE = Limit(6.0, 3)


def sp(
    charger: str,
    amps: float,
    phases: int = 3,
    tx: int | None = 7,
    caps: ChargerCaps = CAPS,
    failsafe: Limit = FAILSAFE,
) -> Setpoint:
    return Setpoint(
        key=EvseKey(charger, 1),
        ocpp_id=f"CP-{charger}",
        limit=Limit(amps, phases),
        failsafe=failsafe,
        caps=caps,
        transaction_id=tx,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def engine(gateway: FakeGateway, clock: FakeClock) -> ApplyEngine:
    # car_reaction_s=0: the release of cut current has its own tests below.
    settings = ApplySettings(increase_holdoff_s=2.0, lease_s=120.0, car_reaction_s=0.0)
    return ApplyEngine(gateway, clock, settings)


async def settle(engine: ApplyEngine, clock: FakeClock, *setpoints: Setpoint) -> None:
    """Bring the engine to a known acknowledged state, past every holdoff."""
    report = await engine.apply(setpoints)
    assert all(o is Outcome.ACCEPTED for steps in report.outcomes.values() for _, o in steps)
    clock.advance(10)


async def test_first_plan_sends_tx_profile_with_phases_and_lease(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    report = await engine.apply([sp("a", 16.0)])
    assert report.sent == 1
    (call,) = gateway.calls
    assert call.action == "SetChargingProfile"
    assert call.payload["connectorId"] == 1
    profile = call.profile
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == 7
    assert profile["stackLevel"] == 1
    assert profile["chargingSchedule"]["chargingRateUnit"] == "A"
    assert (call.limit, call.phases) == (16.0, 3)
    # 16 A is above the 6 A failsafe, so it is a lease.
    assert profile["validTo"] == "2026-11-21T10:18:40.000Z"  # 1000 s + 120 s after epoch
    assert engine.committed(EvseKey("a", 1), 7) == Limit(16.0, 3)


async def test_limit_below_failsafe_is_a_lease_too_and_idle_evse_gets_a_default(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    await engine.apply([sp("a", 0.0, tx=None), sp("b", 6.0)])
    idle, running = gateway.calls
    assert idle.profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert running.profile["chargingProfilePurpose"] == "TxProfile"
    # Different ids: the TxProfile never replaces the EVSE's 0 A default.
    assert idle.profile["chargingProfileId"] != running.profile["chargingProfileId"]
    assert "validTo" in idle.profile and "validTo" in running.profile


async def test_reductions_are_answered_before_any_increase_is_sent(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 16.0), sp("b", 8.0), sp("c", 8.0))
    gateway.calls.clear()
    report = await engine.apply([sp("b", 16.0), sp("a", 8.0), sp("c", 6.0)])
    order = [c.ocpp_id for c in gateway.calls]
    assert set(order[:2]) == {"CP-a", "CP-c"}
    assert order[2] == "CP-b"
    # The two reductions overlapped; the increase left only after both were answered.
    assert gateway.calls[2].wave_open == 0
    assert gateway.calls[1].wave_open == 1
    assert report.outcomes[EvseKey("b", 1)] == [(StepKind.INCREASE, Outcome.ACCEPTED)]


@pytest.mark.parametrize("failure", ["reject", "timeout"])
async def test_failed_reduction_keeps_old_limit_withholds_increases_and_flags(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock, failure: str
) -> None:
    await settle(engine, clock, sp("a", 16.0), sp("b", 8.0))
    gateway.behaviour["CP-a"] = failure
    gateway.calls.clear()
    report = await engine.apply([sp("a", 8.0), sp("b", 16.0)])
    assert [c.ocpp_id for c in gateway.calls] == ["CP-a"]
    assert report.increases_withheld
    assert engine.committed(EvseKey("a", 1), 7) == Limit(16.0, 3)
    assert engine.committed(EvseKey("b", 1), 7) == Limit(8.0, 3)
    assert engine.flags()["a"].reason == Outcome(failure if failure == "timeout" else "rejected")
    assert not engine.steerable("a")
    assert engine.held_limits() == {EvseKey("a", 1): Limit(16.0, 3)}
    # While flagged, a new plan leaves it alone (the loop holds it at its old limit).
    gateway.calls.clear()
    report = await engine.apply([sp("a", 8.0), sp("b", 16.0)])
    assert report.held_flagged == [EvseKey("a", 1)]
    assert [c.ocpp_id for c in gateway.calls] == ["CP-b"]


async def test_flagged_charger_is_retried_after_the_retry_time(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 16.0))
    gateway.behaviour["CP-a"] = "reject"
    await engine.apply([sp("a", 8.0)])
    gateway.behaviour["CP-a"] = "accept"
    clock.advance(engine.settings.retry_flagged_s)
    assert engine.steerable("a")
    await engine.apply([sp("a", 8.0)])
    assert engine.committed(EvseKey("a", 1), 7) == Limit(8.0, 3)
    assert "a" not in engine.flags()


async def test_unanswered_increase_is_booked_at_the_higher_value(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 8.0))
    gateway.behaviour["CP-a"] = "timeout"
    await engine.apply([sp("a", 16.0)])
    assert engine.committed(EvseKey("a", 1), 7) == Limit(16.0, 3)


async def test_rejected_increase_keeps_the_lower_value(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 8.0))
    gateway.behaviour["CP-a"] = "reject"
    await engine.apply([sp("a", 16.0)])
    assert engine.committed(EvseKey("a", 1), 7) == Limit(8.0, 3)


async def test_small_increase_is_not_sent_but_small_reduction_is(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 10.0))
    gateway.calls.clear()
    report = await engine.apply([sp("a", 10.4)])
    assert gateway.calls == []
    assert report.skipped_small == [EvseKey("a", 1)]
    await engine.apply([sp("a", 9.8)])
    assert gateway.limits_for("CP-a") == [9.8]


async def test_increase_is_held_back_after_a_change_but_reduction_never(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 16.0))
    gateway.calls.clear()
    await engine.apply([sp("a", 10.0)])  # reduction: at once
    clock.advance(0.5)
    report = await engine.apply([sp("a", 16.0)])  # increase: too soon
    assert gateway.limits_for("CP-a") == [10.0]
    assert report.deferred == [EvseKey("a", 1)]
    assert report.retry_at == pytest.approx(clock.t + 1.5)
    report = await engine.apply([sp("a", 8.0)])  # a further reduction is not delayed
    assert gateway.limits_for("CP-a") == [10.0, 8.0]
    clock.advance(2.0)
    await engine.apply([sp("a", 16.0)])
    assert gateway.limits_for("CP-a") == [10.0, 8.0, 16.0]


async def test_lease_is_renewed_while_connected_and_lapses_to_failsafe(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    key = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    await engine.apply([sp("a", 16.0)])
    gateway.calls.clear()
    clock.advance(30)
    await engine.apply([sp("a", 16.0)])
    assert gateway.calls == []  # lease not yet due
    clock.advance(31)  # 61 s in: less than 60 s of lease left
    report = await engine.apply([sp("a", 16.0)])
    assert report.outcomes[key] == [(StepKind.RENEWAL, Outcome.ACCEPTED)]
    assert gateway.calls[0].profile["validTo"] == "2026-11-21T10:19:41.000Z"
    # Then the link drops: nothing is renewed and the lease runs out.
    engine.charger_disconnected("a")
    assert not engine.steerable("a")
    clock.advance(119)
    assert engine.committed(key, 7) == Limit(16.0, 3)
    clock.advance(2)
    assert engine.committed(key, 7) == FAILSAFE


async def test_phase_swap_goes_down_first_then_up(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 6.0, phases=3))
    gateway.calls.clear()
    report = await engine.apply([sp("a", 16.0, phases=1)])
    assert [(c.limit, c.phases) for c in gateway.calls] == [(6.0, 1), (16.0, 1)]
    assert [k for k, _ in report.outcomes[EvseKey("a", 1)]] == [
        StepKind.REDUCTION,
        StepKind.INCREASE,
    ]


async def test_tx_default_profile_without_transaction_or_tx_profile_support(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    no_tx = ChargerCaps(tx_profile_supported=False)
    await engine.apply([sp("a", 10.0, tx=None), sp("b", 10.0, caps=no_tx)])
    for call in gateway.calls:
        assert call.profile["chargingProfilePurpose"] == "TxDefaultProfile"
        assert "transactionId" not in call.profile
        assert call.profile["stackLevel"] == 1


async def test_single_stack_level_tx_default_charger_never_exceeds_failsafe(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    caps = ChargerCaps(tx_profile_supported=False, max_stack_level=0)
    await engine.apply([sp("a", 16.0, caps=caps)])
    (call,) = gateway.calls
    assert call.profile["stackLevel"] == 0
    assert call.limit == 6.0  # its live profile would replace the failsafe: cap it there
    assert "validTo" not in call.profile


async def test_watts_and_ocpp_201_payload(engine: ApplyEngine, gateway: FakeGateway) -> None:
    caps = ChargerCaps(ocpp_version="2.0.1", rate_unit="W", voltage=230.0)
    await engine.apply([sp("a", 10.0, phases=3, tx=42, caps=caps)])
    payload = gateway.calls[0].payload
    assert payload["evseId"] == 1
    profile = payload["chargingProfile"]
    assert profile["transactionId"] == "42"
    (schedule,) = profile["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "W"
    assert schedule["chargingSchedulePeriod"][0]["limit"] == 6900.0


async def test_limits_are_rounded_down_to_a_tenth(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    await engine.apply([sp("a", 13.79)])
    assert gateway.calls[0].limit == 13.7


async def test_offline_charger_is_not_flagged_and_reconnect_keeps_what_it_may_obey(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await engine.install_failsafes([FailsafeTarget(EvseKey("a", 1), "CP-a", FAILSAFE, CAPS)])
    await settle(engine, clock, sp("a", 16.0))
    gateway.behaviour["CP-a"] = "offline"
    report = await engine.apply([sp("a", 8.0)])
    assert report.outcomes[EvseKey("a", 1)] == [(StepKind.REDUCTION, Outcome.OFFLINE)]
    assert "a" not in engine.flags()
    assert not engine.steerable("a")
    assert engine.held_limits() == {EvseKey("a", 1): Limit(16.0, 3)}
    gateway.behaviour["CP-a"] = "accept"
    engine.charger_connected("a")
    # It may have kept its TxProfile over a reboot: still counted at 16 A, and nothing
    # is sent before it is ready (has spoken first on the new connection).
    assert engine.committed(EvseKey("a", 1), 7) == Limit(16.0, 3)
    assert not engine.steerable("a")
    gateway.calls.clear()
    assert (await engine.apply([sp("a", 8.0)])).held_flagged == [EvseKey("a", 1)]
    assert gateway.calls == []
    engine.charger_ready("a")
    await engine.apply([sp("a", 8.0)])
    assert gateway.limits_for("CP-a") == [8.0]
    assert engine.committed(EvseKey("a", 1), 7) == Limit(8.0, 3)


async def test_unanswered_renewal_after_reconnect_keeps_the_live_limit_until_its_lease(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """Issue 11, second form: the failsafe (6 A) is acknowledged after a reconnect but
    the 16 A TxProfile renewal is not; the charger must count at 16 A, not 6 A."""
    key = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    await settle(engine, clock, sp("a", 16.0))
    engine.charger_disconnected("a")
    clock.advance(50)  # 120 s lease sent at t=1000, now t=1060 (renewal due)
    engine.charger_connected("a")
    engine.charger_ready("a")
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    gateway.behaviour["CP-a"] = "timeout"
    report = await engine.apply([sp("a", 16.0)])
    assert report.outcomes[key] == [(StepKind.RENEWAL, Outcome.TIMEOUT)]
    assert engine.committed(key, 7) == Limit(16.0, 3)
    # The unanswered renewal may have been applied: its own lease (t=1060+120) binds.
    clock.advance(119)
    assert engine.committed(key, 7) == Limit(16.0, 3)
    clock.advance(2)
    assert engine.committed(key, 7) == FAILSAFE


async def test_unanswered_first_profile_leaves_the_evse_uncertain_until_its_lease(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """Nothing acknowledged yet and the first profile is lost: the charger may obey
    anything; once that call's lease is over, a failsafe acknowledged since binds."""
    key = EvseKey("a", 1)
    gateway.behaviour["CP-a"] = "timeout"
    await engine.apply([sp("a", 10.0)])
    assert engine.uncertain(key)
    assert engine.committed(key, 7) is None
    gateway.behaviour["CP-a"] = "accept"
    clock.advance(engine.settings.retry_flagged_s)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    assert engine.committed(key, 7) is None  # the lost 10 A may still be in force
    clock.advance(121 - engine.settings.retry_flagged_s)
    assert not engine.uncertain(key)
    assert engine.committed(key, 7) == FAILSAFE


async def test_refusals_back_off_doubling_and_reset_on_success(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    gateway.behaviour["CP-a"] = "reject"
    base = engine.settings.retry_flagged_s
    waits = []
    for _ in range(3):
        await engine.apply([sp("a", 10.0)])
        flag = engine.flags()["a"]
        waits.append(flag.retry_at - flag.since)
        clock.advance(flag.retry_at - clock.t)
    assert waits == [base, 2 * base, 4 * base]
    gateway.behaviour["CP-a"] = "accept"
    await engine.apply([sp("a", 10.0)])
    gateway.behaviour["CP-a"] = "reject"
    await engine.apply([sp("a", 8.0)])
    flag = engine.flags()["a"]
    assert flag.retry_at - flag.since == base


async def test_flagged_charger_gets_no_failsafe_until_its_retry(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """Against the old main a charger answering CallError got ~700 calls in 3 s: each
    round re-sent its failsafe and the failed failsafe triggered the next round."""
    key = EvseKey("a", 1)
    gateway.behaviour["CP-a"] = "reject"
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    assert len(gateway.calls) == 1
    for _ in range(5):
        report = await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
        assert report.held_flagged == [key]
    assert len(gateway.calls) == 1
    clock.advance(engine.settings.retry_flagged_s)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    assert len(gateway.calls) == 2


async def test_new_transaction_starts_from_the_failsafe(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    key = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)])
    await settle(engine, clock, sp("a", 16.0, tx=7))
    assert engine.committed(key, 8) == FAILSAFE
    gateway.calls.clear()
    await engine.apply([sp("a", 16.0, tx=8)])
    assert gateway.calls[0].profile["transactionId"] == 8


async def test_failsafes_lowered_first_and_not_resent_when_unchanged(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    a, b = EvseKey("a", 1), EvseKey("b", 1)
    await engine.install_failsafes(
        [
            FailsafeTarget(a, "CP-a", Limit(10, 3), CAPS),
            FailsafeTarget(b, "CP-b", Limit(6, 3), CAPS),
        ]
    )
    first = gateway.calls[0].profile
    assert first["chargingProfilePurpose"] == "TxDefaultProfile"
    assert first["stackLevel"] == 0
    assert "validTo" not in first
    gateway.calls.clear()
    await engine.install_failsafes(
        [
            FailsafeTarget(b, "CP-b", Limit(10, 3), CAPS),
            FailsafeTarget(a, "CP-a", Limit(6, 3), CAPS),
        ]
    )
    assert [c.ocpp_id for c in gateway.calls] == ["CP-a", "CP-b"]
    assert gateway.calls[1].wave_open == 0
    gateway.calls.clear()
    await engine.install_failsafes([FailsafeTarget(a, "CP-a", Limit(6, 3), CAPS)])
    assert gateway.calls == []


async def test_failed_failsafe_reduction_withholds_raises(
    engine: ApplyEngine, gateway: FakeGateway
) -> None:
    a, b = EvseKey("a", 1), EvseKey("b", 1)
    await engine.install_failsafes(
        [
            FailsafeTarget(a, "CP-a", Limit(10, 3), CAPS),
            FailsafeTarget(b, "CP-b", Limit(6, 3), CAPS),
        ]
    )
    gateway.behaviour["CP-a"] = "reject"
    gateway.calls.clear()
    report = await engine.install_failsafes(
        [
            FailsafeTarget(b, "CP-b", Limit(10, 3), CAPS),
            FailsafeTarget(a, "CP-a", Limit(6, 3), CAPS),
        ]
    )
    assert report.increases_withheld
    assert [c.ocpp_id for c in gateway.calls] == ["CP-a"]
    # It said no: it still holds its old 10 A failsafe, and is counted at that.
    assert engine.committed(a) == Limit(10, 3)


async def test_unanswered_failsafe_counts_at_the_higher_of_old_and_new(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    a = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(a, "CP-a", Limit(6, 3), CAPS)])
    gateway.behaviour["CP-a"] = "timeout"
    await engine.install_failsafes([FailsafeTarget(a, "CP-a", Limit(10, 3), CAPS)])
    assert engine.committed(a) == Limit(10, 3)
    gateway.behaviour["CP-a"] = "accept"
    clock.advance(engine.settings.retry_flagged_s)
    await engine.install_failsafes([FailsafeTarget(a, "CP-a", Limit(4, 3), CAPS)])
    assert engine.committed(a) == Limit(4, 3)


async def test_zero_amps_keeps_the_phase_count(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 10.0, phases=1))
    gateway.calls.clear()
    await engine.apply([sp("a", 0.0, phases=3)])
    assert [(c.limit, c.phases) for c in gateway.calls] == [(0.0, 1)]


async def test_a_plan_equal_to_the_failsafe_is_pinned_with_a_live_profile(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """Otherwise raising the failsafe later (it goes out after the live limits) would
    let the car draw more than the plan gave it."""
    key = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", Limit(10.0, 3), CAPS)])
    gateway.calls.clear()
    await engine.apply([sp("a", 10.0)])
    (call,) = gateway.calls
    assert call.profile["stackLevel"] == 1 and call.limit == 10.0
    assert engine.granted(key) is not None


async def test_after_a_link_drop_a_live_limit_below_the_failsafe_counts_as_the_failsafe(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """A charger that reboots may drop its TxProfile and fall back to its failsafe: until
    it acknowledges a live limit again it may draw the higher of the two."""
    key = EvseKey("a", 1)
    await engine.install_failsafes([FailsafeTarget(key, "CP-a", Limit(10.0, 3), CAPS)])
    await settle(engine, clock, sp("a", 6.0))
    assert engine.committed(key, 7) == Limit(6.0, 3)
    engine.charger_disconnected("a")
    assert engine.committed(key, 7) == Limit(10.0, 3)
    engine.charger_connected("a")
    engine.charger_ready("a")
    assert engine.committed(key, 7) == Limit(10.0, 3)
    gateway.calls.clear()
    await engine.apply([sp("a", 6.0)])  # the same plan: sent again, as a reduction
    assert gateway.limits_for("CP-a") == [6.0]
    assert engine.committed(key, 7) == Limit(6.0, 3)


async def test_after_a_link_drop_without_a_failsafe_the_charger_is_unknown(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(engine, clock, sp("a", 6.0))
    engine.charger_disconnected("a")
    assert engine.committed(EvseKey("a", 1), 7) is None  # whatever its hardware allows


async def test_after_a_reboot_the_failsafe_is_sent_again_and_bounds_until_then(
    engine: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    key = EvseKey("a", 1)
    target = FailsafeTarget(key, "CP-a", FAILSAFE, CAPS)
    await engine.install_failsafes([target])
    engine.charger_disconnected("a")
    engine.charger_connected("a")
    engine.charger_ready("a")  # a reconnect without reboot: nothing to re-send
    gateway.calls.clear()
    await engine.install_failsafes([target])
    assert gateway.calls == []
    engine.charger_disconnected("a")
    engine.charger_connected("a")
    engine.charger_ready("a", rebooted=True)
    assert not engine.failsafe_known(key)
    assert engine.committed(key) == FAILSAFE  # still what bounds it meanwhile
    await engine.install_failsafes([target])
    assert [c.profile["stackLevel"] for c in gateway.calls] == [0]
    assert engine.failsafe_known(key)


def drawing(charger: str, amps: float, now_draws: float | None) -> Setpoint:
    base = sp(charger, amps)
    return Setpoint(
        base.key,
        base.ocpp_id,
        base.limit,
        base.failsafe,
        base.caps,
        base.transaction_id,
        now_draws,
    )


@pytest.fixture
def reacting(gateway: FakeGateway, clock: FakeClock) -> ApplyEngine:
    settings = ApplySettings(increase_holdoff_s=0.0, lease_s=120.0, car_reaction_s=5.0)
    return ApplyEngine(gateway, clock, settings)


async def test_a_cut_that_frees_current_starts_a_ramp_and_holds_that_plans_increases(
    reacting: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    """IEC 61851-1 gives a car 5 s to follow a lower limit: until then the current the
    cut is to free still flows. The plan's increases assumed it had slowed down, so they
    are held for a plan that counts it at its old limit."""
    await settle(reacting, clock, sp("a", 16.0), sp("b", 8.0))
    gateway.calls.clear()
    report = await reacting.apply([drawing("a", 8.0, 16.0), drawing("b", 16.0, 8.0)])
    assert gateway.limits_for("CP-a") == [8.0]
    assert gateway.limits_for("CP-b") == []
    assert report.ramps_started and report.increases_held
    assert report.retry_at == pytest.approx(clock.t + 5.0)
    assert reacting.ramping() == {EvseKey("a", 1): (Limit(16.0, 3), clock.t)}
    # The next plan (a counted at 16 A) has nothing new to cut: its increases go.
    report = await reacting.apply([drawing("c", 16.0, 0.0)])
    assert not report.increases_held
    assert gateway.limits_for("CP-c") == [16.0]
    clock.advance(4.9)
    assert EvseKey("a", 1) in reacting.ramping()
    clock.advance(0.1)
    assert reacting.ramping() == {}


async def test_a_reading_within_the_new_limit_ends_the_ramp(
    reacting: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(reacting, clock, sp("a", 16.0))
    await reacting.apply([drawing("a", 8.0, 16.0)])
    reacting.followed(EvseKey("a", 1))
    assert reacting.ramping() == {}


async def test_a_cut_above_what_the_car_draws_holds_nothing_back(
    reacting: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(reacting, clock, sp("a", 16.0), sp("b", 8.0))
    gateway.calls.clear()
    report = await reacting.apply([drawing("a", 8.0, 5.0), drawing("b", 16.0, 8.0)])
    assert gateway.limits_for("CP-b") == [16.0]
    assert not report.increases_held and reacting.ramping() == {}


async def test_a_cut_of_a_car_whose_draw_is_unknown_holds_increases_back(
    reacting: ApplyEngine, gateway: FakeGateway, clock: FakeClock
) -> None:
    await settle(reacting, clock, sp("a", 16.0), sp("b", 8.0))
    gateway.calls.clear()
    report = await reacting.apply([drawing("a", 8.0, None), drawing("b", 16.0, 8.0)])
    assert report.increases_held
    assert gateway.limits_for("CP-b") == []
