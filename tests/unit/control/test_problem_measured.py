"""build_problem with readings derived from power and with cars that do not follow their
limit (issue 11, rule 6)."""

from __future__ import annotations

from dataclasses import replace

from chargegrid.control.apply import EvseKey
from chargegrid.control.learner import SessionLearner
from chargegrid.control.meters import MeterBook
from chargegrid.control.problem import build_problem
from chargegrid.control.profiles import Limit

from .test_problem import charger, inputs, node, session, snapshot

KEY3 = EvseKey("three", 1)


def metered_b_with_a_three_phase_charger():  # type: ignore[no-untyped-def]
    # Site 40 A; circuit B (20 A, RST) metered, charger "three" (RST) on it.
    return replace(
        snapshot(),
        nodes=(node("site", None, 40.0), node("B", "site", 20.0, "RST", "mB")),
        chargers=(charger("three", "B", "RST"),),
        sessions=(session("s3", "three"),),
    )


def test_a_total_spread_over_three_terminals_is_not_subtracted_from_a_meter() -> None:
    meters = MeterBook()
    meters.record("mB", (16.0, 0.0, 0.0), received_at=99.5, age_s=0.0)  # a 1-phase car
    spread = SessionLearner()
    spread.observe("s3", 99.0, (16 / 3, 16 / 3, 16 / 3), 32.0, source="power", split_known=False)
    built = build_problem(
        metered_b_with_a_three_phase_charger(), inputs(learner=spread, meters=meters)
    )
    # Subtracting 5.3 A on L2 and L3 could hide real load there; nothing is subtracted.
    assert {n.id: n.unmanaged for n in built.problem.nodes}["B"] == (16.0, 0.0, 0.0)
    per_phase = SessionLearner()
    per_phase.observe("s3", 99.0, (16.0, 0.0, 0.0), 32.0, source="power", split_known=True)
    built = build_problem(
        metered_b_with_a_three_phase_charger(), inputs(learner=per_phase, meters=meters)
    )
    assert {n.id: n.unmanaged for n in built.problem.nodes}["B"] == (0.0, 0.0, 0.0)


def test_a_car_not_following_its_limit_is_held_at_its_draw_and_told_its_limit() -> None:
    built = build_problem(
        snapshot(),
        inputs(violating={KEY3: (22.0, 21.0, 9.0)}, held={KEY3: Limit(12.0, 3)}),
    )
    assert "s3" not in built.contexts
    (held,) = built.held
    assert held.reason == "not_following_limit"
    assert held.load == (22.0, 21.0, 12.0)  # per phase, the more of draw and limit
    assert held.told == Limit(12.0, 3)
    site = {n.id: n for n in built.problem.nodes}["site"]
    assert site.reserved == (22.0, 21.0, 12.0)


def test_an_offline_violator_is_held_at_the_more_of_its_failsafe_and_its_draw() -> None:
    built = build_problem(
        snapshot(),
        inputs(
            offline=frozenset({"three"}),
            failsafe={KEY3: Limit(8.0, 3)},
            violating={KEY3: (20.0, 20.0, 20.0)},
        ),
    )
    (held,) = built.held
    assert held.reason == "charger_offline"
    assert held.load == (20.0, 20.0, 20.0)
