"""Learning real phases and unused headroom from per-phase meter values."""

from __future__ import annotations

from chargegrid.control.learner import LearnerSettings, SessionLearner

S = LearnerSettings(phase_on_a=1.0, well_below_a=4.0, cap_after_s=60.0, cap_margin_a=2.0)


def test_phases_unknown_until_a_car_draws_then_only_ever_added() -> None:
    learner = SessionLearner(S)
    assert learner.used_terminals("s") is None
    assert not learner.observe("s", 0, (0.2, 0.1, 0.0), 16)  # idle: learns nothing
    assert learner.used_terminals("s") is None
    assert learner.observe("s", 1, (15.8, 0.3, None), 16)
    assert learner.used_terminals("s") == (1,)
    assert not learner.observe("s", 2, (0.0, 0.0, 0.0), 16)  # a pause drops nothing
    assert learner.observe("s", 3, (15.0, 15.1, 14.9), 16)
    assert learner.used_terminals("s") == (1, 2, 3)


def test_car_well_below_its_limit_for_a_while_is_capped_then_released() -> None:
    learner = SessionLearner(S)
    learner.observe("s", 0, (8.0, 8.0, 8.0), 16)
    assert not learner.observe("s", 30, (8.2, 8.0, 8.0), 16)
    assert learner.cap("s") is None
    assert learner.observe("s", 60, (8.1, 8.0, 8.0), 16)
    assert learner.cap("s") == 8.1 + 2.0
    # Drawing below the cap changes nothing; climbing to it lifts the cap.
    assert not learner.observe("s", 70, (8.5, 8.4, 8.4), 10.1)
    assert learner.observe("s", 80, (9.5, 9.4, 9.4), 10.1)
    assert learner.cap("s") is None


def test_close_to_limit_resets_the_clock() -> None:
    learner = SessionLearner(S)
    learner.observe("s", 0, (8.0, None, None), 16)
    learner.observe("s", 50, (13.0, None, None), 16)  # within 4 A of the limit
    learner.observe("s", 61, (8.0, None, None), 16)
    assert learner.cap("s") is None
    learner.observe("s", 121, (8.0, None, None), 16)
    assert learner.cap("s") == 10.0


def test_forget_and_measured() -> None:
    learner = SessionLearner(S)
    learner.observe("s", 0, (1.5, None, 2.5), 16)
    assert learner.measured("s") == (1.5, None, 2.5)
    learner.forget("s")
    assert learner.measured("s") == (None, None, None)
    assert learner.used_terminals("s") is None
