"""Rule 4 against an LP oracle: for the admitted set and the phases the allocator chose,
its limits equal the lexicographic weighted max-min optimum found by HiGHS."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from tests.hypothesis_budget import examples

from chargegrid.balancing import Demand, Node, Problem, allocate, uniform
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import PhaseRotation

from .oracle import instance, lexicographic_max_min
from .strategies import problems

AGREEMENT_A = 0.01


def assert_matches_oracle(problem: Problem) -> None:
    plan = allocate(problem)
    optimum = lexicographic_max_min(instance(problem, plan))
    for session_id, value in optimum.items():
        got = plan.session(session_id).limit_a
        assert abs(got - value) <= AGREEMENT_A, (session_id, got, value)


@settings(
    max_examples=examples(75, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems(max_sessions=8, max_circuits=4, deadlines=False))
def test_allocation_is_the_lexicographic_max_min_optimum(problem: Problem) -> None:
    assert_matches_oracle(problem)


def test_oracle_disagrees_with_a_wrong_answer() -> None:
    """The oracle itself can fail: two equal sessions under 20 A get 10 A each, not 6/14."""
    problem = Problem(
        nodes=(Node("site", None, uniform(20.0)),),
        demands=(Demand("a", "site", 32.0), Demand("b", "site", 32.0)),
    )
    plan = allocate(problem)
    optimum = lexicographic_max_min(instance(problem, plan))
    assert optimum == {"a": 10.0, "b": 10.0} or all(abs(v - 10.0) < 1e-6 for v in optimum.values())
    assert abs(optimum["a"] - 6.0) > AGREEMENT_A


def test_weighted_mixed_phases_match_oracle() -> None:
    one = PowerType.AC_1_PHASE
    problem = Problem(
        nodes=(
            Node("site", None, uniform(40.0)),
            Node("c1", "site", uniform(25.0), PhaseRotation.parse("STR")),
        ),
        demands=(
            Demand("a", "c1", 32.0, weight=2.0),
            Demand("b", "c1", 16.0, power_type=one),
            Demand("c", "site", 32.0, power_type=one, rotation=PhaseRotation.parse("TRS")),
            Demand("d", "site", 10.0, min_current=8.0),
        ),
    )
    assert_matches_oracle(problem)
