"""The simulator's profile stack and car, as a 1.6 charger and an IEC 61851 car behave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chargegrid.sim.car import Car
from chargegrid.sim.profiles import ProfileStack

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def profile(pid: int, level: int, purpose: str, limit: float, **extra: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": extra.pop("unit", "A"),
        "chargingSchedulePeriod": extra.pop("periods", [{"startPeriod": 0, "limit": limit}]),
    }
    return {
        "chargingProfileId": pid,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": extra.pop("kind", "Relative"),
        "chargingSchedule": schedule,
        **extra,
    }


def test_tx_profile_beats_default_and_higher_stack_level_wins() -> None:
    stack = ProfileStack(connectors=2)
    assert stack.install(0, profile(1, 0, "TxDefaultProfile", 20), None, T0) == "Accepted"
    assert stack.install(1, profile(2, 1, "TxDefaultProfile", 12), None, T0) == "Accepted"
    assert stack.limit(1, T0, 5, T0).amps == 12  # connector-specific default
    assert stack.limit(2, T0, 6, T0).amps == 20  # falls back to connector 0
    assert stack.install(1, profile(3, 0, "TxProfile", 8), 5, T0) == "Accepted"
    assert stack.limit(1, T0, 5, T0).amps == 8
    stack.transaction_ended(1)
    assert stack.limit(1, T0, 7, T0).amps == 12


def test_tx_profile_needs_a_running_transaction() -> None:
    stack = ProfileStack(connectors=1)
    assert stack.install(1, profile(1, 0, "TxProfile", 8), None, T0) == "Rejected"
    assert stack.install(1, profile(1, 0, "TxProfile", 8, transactionId=9), 5, T0) == "Rejected"
    assert stack.install(1, profile(1, 9, "TxDefaultProfile", 8), None, T0) == "Rejected"  # level
    assert stack.install(1, profile(1, 0, "ChargePointMaxProfile", 8), None, T0) == "Rejected"


def test_valid_to_ends_a_lease_and_periods_follow_the_clock() -> None:
    stack = ProfileStack(connectors=1)
    lease = profile(
        1,
        1,
        "TxDefaultProfile",
        0,
        periods=[{"startPeriod": 0, "limit": 10}, {"startPeriod": 600, "limit": 16}],
        validTo=(T0 + timedelta(hours=1)).isoformat(),
    )
    stack.install(1, lease, None, T0)
    assert stack.limit(1, T0 + timedelta(minutes=5), 3, T0).amps == 10
    assert stack.limit(1, T0 + timedelta(minutes=15), 3, T0).amps == 16
    assert stack.limit(1, T0 + timedelta(hours=2), 3, T0).amps is None


def test_watts_become_amps_per_phase_and_number_phases_is_kept() -> None:
    stack = ProfileStack(connectors=1)
    periods = [{"startPeriod": 0, "limit": 6900, "numberPhases": 3}]
    stack.install(1, profile(1, 0, "TxDefaultProfile", 0, unit="W", periods=periods), None, T0)
    limit = stack.limit(1, T0, None, None)
    assert limit.amps == pytest.approx(10.0)
    assert limit.phases == 3


def test_clear_by_purpose_and_by_id() -> None:
    stack = ProfileStack(connectors=1)
    stack.install(0, profile(1, 0, "ChargePointMaxProfile", 20), None, T0)
    stack.install(1, profile(2, 0, "TxDefaultProfile", 10), None, T0)
    assert stack.charger_cap(T0).amps == 20
    assert stack.clear(None, None, "ChargePointMaxProfile", None) == "Accepted"
    assert stack.charger_cap(T0).amps is None
    assert stack.clear(99, None, None, None) == "Unknown"
    assert stack.clear(2, None, None, None) == "Accepted"


def test_car_ramps_to_the_limit_and_nothing_below_six_amps() -> None:
    car = Car("ev", phases=1, max_current=32, battery_wh=60_000, soc=20)
    for _ in range(20):
        car.step(16.0, conductors=3, dt=1.0, ignore_limit=False)
    assert car.drawing == 16.0
    assert car.conductors(3) == 1  # a 1-phase car on a 3-phase charger
    car.step(5.0, conductors=3, dt=5.0, ignore_limit=False)
    assert car.drawing == 0.0  # IEC 61851: below 6 A it cannot charge
    car.step(5.0, conductors=3, dt=60.0, ignore_limit=True)
    assert car.drawing > 6.0  # the fault: it ignores its limit
    assert car.energy_wh > 0


def test_car_tapers_near_full_and_stops_at_target() -> None:
    car = Car("ev", phases=3, max_current=16, battery_wh=1_000, soc=90, target_soc=95)
    assert car.wanted() < 16
    for _ in range(200):
        car.step(None, conductors=3, dt=10.0, ignore_limit=False)
    assert car.full
    assert car.wanted() == 0.0


def test_a_slow_car_keeps_its_draw_for_its_reaction_time_after_a_cut() -> None:
    car = Car("slow", phases=3, max_current=32.0, battery_wh=1e7, soc=10)
    for _ in range(100):
        car.step(16.0, 3, 0.1, ignore_limit=False, reaction_s=5.0)
    assert car.drawing == pytest.approx(16.0)
    for _ in range(49):  # 4.9 s after the cut to 8 A: still 16 A
        car.step(8.0, 3, 0.1, ignore_limit=False, reaction_s=5.0)
    assert car.drawing == pytest.approx(16.0)
    for _ in range(10):
        car.step(8.0, 3, 0.1, ignore_limit=False, reaction_s=5.0)
    assert car.drawing == pytest.approx(8.0)
    # A car without the option follows at once (ramping at 15 A/s).
    quick = Car("quick", phases=3, max_current=32.0, battery_wh=1e7, soc=10, drawing=16.0)
    quick.step(8.0, 3, 0.1, ignore_limit=False)
    assert quick.drawing == pytest.approx(14.5)
