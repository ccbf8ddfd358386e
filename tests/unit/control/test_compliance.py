"""Watching that cars follow their acknowledged limit (issue 11, rule 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargegrid.control.apply import EvseKey
from chargegrid.control.compliance import ComplianceSettings, ComplianceWatcher
from chargegrid.control.profiles import Limit

KEY = EvseKey("c", 1)
WALL = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
S = ComplianceSettings(margin_a=1.0, margin_ratio=0.10, reaction_s=10.0, resend_every_s=30.0)


def read(w: ComplianceWatcher, at: float, amps: float, limit: float, changed_at: float = 0.0):
    return w.observe(
        "s", KEY, at, WALL + timedelta(seconds=at), (amps, amps, amps), Limit(limit, 3), changed_at
    )


def test_reduction_not_followed_is_flagged_after_the_reaction_time_not_before() -> None:
    w = ComplianceWatcher(S)
    assert read(w, 0.0, 16.0, 16.0) is None
    # Cut to 6 A, acknowledged at t=100; the car keeps drawing 16 A.
    assert read(w, 101.0, 16.0, 6.0, changed_at=100.0) is None
    assert read(w, 105.0, 16.0, 6.0, changed_at=100.0) is None
    assert read(w, 110.9, 16.0, 6.0, changed_at=100.0) is None  # 9.9 s: not yet
    assert w.violation("s") is None
    started = read(w, 111.0, 15.5, 6.0, changed_at=100.0)
    assert started is not None and not started.ended
    v = started.violation
    assert (v.limit_a, v.measured_a, v.since) == (6.0, 15.5, 101.0)
    assert v.since_wall == WALL + timedelta(seconds=101)
    assert w.violation("s") is not None
    assert read(w, 120.0, 16.0, 6.0, changed_at=100.0) is None  # reported once


def test_the_clock_starts_at_the_acknowledged_reduction_not_at_an_older_over_reading() -> None:
    w = ComplianceWatcher(S)
    read(w, 0.0, 20.0, 16.0)  # over 16 + 1.6 already
    read(w, 5.0, 20.0, 16.0)
    # Reduced at t=8: its reaction time counts from then, however long it was over.
    assert read(w, 9.0, 20.0, 6.0, changed_at=8.0) is None
    assert read(w, 17.9, 20.0, 6.0, changed_at=8.0) is None
    assert read(w, 18.0, 20.0, 6.0, changed_at=8.0) is not None


def test_an_increase_being_ramped_is_never_a_violation() -> None:
    w = ComplianceWatcher(S)
    read(w, 0.0, 6.0, 6.0)
    for t in range(1, 60, 5):  # raised to 32 A; the car climbs slowly
        assert read(w, float(t), 6.0 + t / 3, 32.0, changed_at=1.0) is None
    assert w.violation("s") is None


def test_within_the_margin_is_not_over() -> None:
    w = ComplianceWatcher(S)
    for t in range(0, 60, 5):
        assert read(w, float(t), 17.5, 16.0) is None  # 16 + max(1, 1.6)
        assert read(w, t + 2.5, 6.9, 6.0) is None  # 6 + max(1, 0.6)
    assert w.allowed(0.0) == 1.0  # a paused car may show a little standby draw


def test_a_short_excursion_does_not_count() -> None:
    w = ComplianceWatcher(S)
    read(w, 0.0, 20.0, 16.0)
    read(w, 5.0, 16.0, 16.0)  # back within: the run ends
    assert read(w, 12.0, 20.0, 16.0) is None  # a new run from t=12
    assert read(w, 21.0, 20.0, 16.0) is None
    assert read(w, 22.0, 20.0, 16.0) is not None


def test_cleared_when_it_complies_and_flagged_again_on_a_new_run() -> None:
    w = ComplianceWatcher(S)
    read(w, 0.0, 25.0, 16.0)
    assert read(w, 10.0, 25.0, 16.0) is not None
    ended = read(w, 20.0, 15.0, 16.0)
    assert ended is not None and ended.ended
    assert ended.violation.since == 0.0 and ended.violation.measured_a == 15.0
    assert w.violation("s") is None and w.violations() == {}
    read(w, 30.0, 25.0, 16.0)
    assert read(w, 40.0, 25.0, 16.0) is not None


def test_nothing_to_judge_without_a_limit_or_a_reading() -> None:
    w = ComplianceWatcher(S)
    for t in range(0, 60, 10):
        assert w.observe("s", KEY, float(t), WALL, (30.0, 30.0, 30.0), None) is None
        assert w.observe("s", KEY, t + 5.0, WALL, (None, None, None), Limit(6, 3)) is None
    assert w.violation("s") is None


def test_resend_is_due_when_it_starts_then_every_period() -> None:
    w = ComplianceWatcher(S)
    assert not w.resend_due("s", 0.0)
    read(w, 0.0, 25.0, 16.0)
    read(w, 10.0, 25.0, 16.0)
    assert w.resend_due("s", 10.0)
    assert not w.resend_due("s", 20.0)
    assert w.resend_due("s", 40.0)
    assert w.forget("s") is not None
    assert not w.resend_due("s", 100.0)
