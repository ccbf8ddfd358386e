"""Current per terminal from whatever the charger reports (issue 11, rule 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargegrid.control.learner import SessionLearner
from chargegrid.control.measure import EnergyRates, MeterSample, Source, derive
from chargegrid.services.charger_messages import summarise
from chargegrid.services.charger_ports import Sample

NONE3 = (None, None, None)
T0 = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def sample(
    *,
    current: tuple[float | None, float | None, float | None] = NONE3,
    current_unphased: float | None = None,
    power: tuple[float | None, float | None, float | None] = NONE3,
    power_w: float | None = None,
    voltage: tuple[float | None, float | None, float | None] = NONE3,
    energy_wh: float | None = None,
) -> MeterSample:
    return MeterSample(
        T0.timestamp(), current, current_unphased, power, power_w, voltage, energy_wh
    )


AC3 = {"in_use": (1, 2, 3), "in_use_known": False, "dc": False, "nominal_v": 230.0}
AC1 = {"in_use": (1,), "in_use_known": False, "dc": False, "nominal_v": 230.0}


def test_per_phase_current_wins_over_power_and_energy() -> None:
    s = sample(current=(15.8, 0.2, None), power_w=11_000.0, energy_wh=5_000.0)
    m = derive(s, energy_rate_w=7_000.0, **AC3)
    assert m.current == (15.8, 0.2, None)
    assert m.source is Source.CURRENT and m.split_known


def test_per_phase_power_divided_by_that_phases_voltage() -> None:
    s = sample(power=(3_680.0, 0.0, None), voltage=(230.0, 240.0, None), power_w=3_680.0)
    m = derive(s, **AC3)
    assert m.source is Source.POWER and m.split_known
    assert m.current[0] == pytest.approx(16.0)
    assert m.current[1] == 0.0 and m.current[2] is None


def test_total_power_on_one_phase_and_on_three() -> None:
    one = derive(sample(power_w=3_680.0), **AC1)
    assert one.current == (pytest.approx(16.0), None, None)
    assert one.source is Source.POWER and one.split_known  # one terminal: nothing to guess
    three = derive(sample(power_w=11_040.0), **AC3)
    assert three.current == pytest.approx((16.0, 16.0, 16.0))
    assert not three.split_known  # a 1-phase car would carry it all on one terminal
    learnt = derive(
        sample(power_w=3_680.0), in_use=(2,), in_use_known=True, dc=False, nominal_v=230
    )
    assert learnt.current == (None, pytest.approx(16.0), None) and learnt.split_known


def test_reported_voltage_is_used_when_plausible_else_nominal() -> None:
    low = derive(sample(power_w=3_600.0, voltage=(200.0, None, None)), **AC1)
    assert low.current[0] == pytest.approx(18.0)
    silly = derive(sample(power_w=3_680.0, voltage=(0.0, None, None)), **AC1)
    assert silly.current[0] == pytest.approx(16.0)


def test_dc_is_a_balanced_three_phase_input_at_nominal_voltage() -> None:
    # Its Voltage and unphased Current are the DC side's (400 V, 125 A): not the grid's.
    s = sample(power_w=50_000.0, voltage=(400.0, None, None), current_unphased=125.0)
    m = derive(s, in_use=(1, 2, 3), in_use_known=True, dc=True, nominal_v=230.0)
    assert m.source is Source.POWER and m.split_known
    assert m.current == pytest.approx((50_000 / 690, 50_000 / 690, 50_000 / 690))


def test_unphased_current_goes_on_every_terminal_in_use() -> None:
    m = derive(sample(current_unphased=10.0, power_w=6_900.0), **AC3)
    assert m.current == (10.0, 10.0, 10.0) and m.source is Source.CURRENT


def test_energy_register_rate_when_nothing_else_is_sent() -> None:
    rates = EnergyRates()
    assert rates.observe("s", 0.0, 10_000.0) is None  # one sample: no rate
    assert rates.observe("s", 5.0, 10_015.0) is None  # under 10 s: mostly rounding
    rate = rates.observe("s", 12.0, 10_036.8)  # 36.8 Wh in 12 s
    assert rate == pytest.approx(11_040.0)
    assert rates.observe("s", 12.0, 10_036.8) is None  # a replayed message
    assert rates.observe("s", 30.0, 5.0) is None  # the register was reset
    m = derive(sample(), energy_rate_w=rate, **AC3)
    assert m.source is Source.ENERGY
    assert m.current == pytest.approx((16.0, 16.0, 16.0))
    assert derive(sample(), **AC3).source is None


def test_energy_rate_ignores_a_pair_too_far_apart() -> None:
    rates = EnergyRates()
    rates.observe("s", 0.0, 0.0)
    assert rates.observe("s", 1_000.0, 3_000.0) is None  # over 900 s: no rate


def test_spread_readings_teach_the_learner_nothing() -> None:
    learner = SessionLearner()
    m = derive(sample(power_w=3_680.0), **AC3)  # 1-phase car, total power only
    for t in range(0, 200, 10):
        learner.observe("s", t, m.current, 32.0, source=m.source, split_known=m.split_known)
    assert learner.used_terminals("s") is None  # not three phases
    assert learner.cap("s") is None  # not capped at a third of its draw
    assert learner.source("s") == "power"


def test_summarise_reads_power_voltage_and_unphased_current() -> None:
    samples = [
        Sample(T0, "Power.Active.Import", 7_400.0, None, "W"),
        Sample(T0, "Power.Active.Import", 3_700.0, "L1-N", "W"),
        Sample(T0, "Voltage", 231.0, "L1-N", "V"),
        Sample(T0, "Voltage", 400.0, "L2-L3", "V"),
        Sample(T0, "Current.Import", 16.0, None, "A"),
        Sample(T0, "Energy.Active.Import.Register", 1_234.0, None, "Wh"),
    ]
    reading = summarise(samples)
    assert reading is not None
    assert reading.current == {"l1": None, "l2": None, "l3": None}
    assert reading.current_unphased == 16.0
    assert reading.power_w == 7_400.0
    assert reading.power == {"l1": 3_700.0, "l2": None, "l3": None}
    assert reading.voltage["l1"] == 231.0
    assert reading.voltage["l2"] == pytest.approx(400.0 / 3**0.5)
    assert reading.energy_register_wh == 1_234.0
