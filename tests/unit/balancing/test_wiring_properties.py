"""Networks as they are wired (issue 16): line-to-line sessions, phasor lines and
delta-wye transformers on random trees. Every plan is judged by ``phasors.overloads``,
the physics computed apart from the allocator's rows."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.balancing import (
    Demand,
    Node,
    OfflineCharger,
    Plan,
    Problem,
    SessionPlan,
    allocate,
    check_plan,
    failsafe_plan,
)
from chargegrid.balancing.model import Transformer
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import VALID_ROTATIONS, PhaseRotation

from .phasors import overloads

# A short run in the suite, the long one in python -m bench.properties.
CASES = settings(
    max_examples=examples(60, 1000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def wired_problems(draw: st.DrawFn) -> Problem:
    count = draw(st.integers(1, 5))
    transformer_at = draw(st.one_of(st.none(), st.integers(0, count - 1)))
    nodes = []
    for i in range(count):
        # Parents come first, so the tree has no cycle; a node below the transformer
        # hangs from it or its children only when drawn so.
        parent = None if i == 0 else f"n{draw(st.integers(0, i - 1))}"
        limit = tuple(draw(st.floats(10.0, 120.0)) for _ in range(3))
        held = tuple(draw(st.sampled_from([0.0, 0.0, 3.0, 15.0])) for _ in range(3))
        transformer = None
        if i == transformer_at:
            transformer = Transformer(draw(st.floats(1.0, 5.0)), draw(st.floats(5.0, 60.0)))
        nodes.append(
            Node(
                f"n{i}",
                parent,
                limit,  # type: ignore[arg-type]
                rotation=PhaseRotation.parse(draw(st.sampled_from(VALID_ROTATIONS[3]))),
                unmanaged=held,  # type: ignore[arg-type]
                phasor_lines=draw(st.booleans()),
                transformer=transformer,
            )
        )
    if transformer_at is not None:
        # No transformer below another (refused); only one is drawn, so nothing to do.
        pass
    demands = []
    for k in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["ll", "ll", "ln1", "ac3"]))
        steps = draw(st.one_of(st.none(), st.just((0.0, 8.0, 16.0, 24.0, 32.0))))
        common = {
            "session_id": f"s{k}",
            "node_id": f"n{draw(st.integers(0, count - 1))}",
            "max_current": draw(st.floats(6.0, 40.0)),
            "plugged_in_at": float(k),
            "weight": draw(st.sampled_from([1.0, 1.0, 2.0])),
            "allowed_currents": steps,
        }
        if kind == "ll":
            demand = Demand(
                rotation=PhaseRotation.parse(draw(st.sampled_from(VALID_ROTATIONS[2]))),
                power_type=PowerType.AC_1_PHASE,
                line_to_line=True,
                **common,  # type: ignore[arg-type]
            )
        elif kind == "ln1":
            demand = Demand(
                rotation=PhaseRotation.parse(draw(st.sampled_from(VALID_ROTATIONS[1]))),
                power_type=PowerType.AC_1_PHASE,
                **common,  # type: ignore[arg-type]
            )
        else:
            demand = Demand(**common)  # type: ignore[arg-type]
        demands.append(demand)
    return Problem(tuple(nodes), tuple(demands))


@CASES
@given(wired_problems())
def test_no_line_nor_primary_over_its_limit(problem: Problem) -> None:
    plan = allocate(problem)
    assert overloads(problem, plan) == []
    check_plan(problem, plan)
    demands = {d.session_id: d for d in problem.demands}
    for entry in plan.sessions:
        demand = demands[entry.session_id]
        assert entry.limit_a == 0.0 or demand.min_current <= entry.limit_a <= demand.max_current
        if demand.line_to_line:
            assert len(entry.grid_phases) == 2
            # One phase to the charger (OCPP numberPhases), wherever it charges.
            assert entry.phases == 1 or not entry.admitted


def _caltech_like(sessions: int, phasor: bool, transformer: bool) -> Problem:
    rotations = ["RS", "ST", "TR"]
    nodes = (
        Node(
            "site",
            None,
            (416.7, 416.7, 416.7),
            phasor_lines=phasor,
            transformer=Transformer(4.0, 180.5) if transformer else None,
        ),
    )
    demands = tuple(
        Demand(
            f"s{i}",
            "site",
            80.0,
            rotation=PhaseRotation.parse(rotations[i % 3]),
            power_type=PowerType.AC_1_PHASE,
            line_to_line=True,
        )
        for i in range(sessions)
    )
    return Problem(nodes, demands)


def test_phasor_lines_deliver_what_magnitudes_hold_back() -> None:
    """Balanced line-to-line load: a line carries √3·I, not 2·I. Summing magnitudes
    holds each car at 416.7 / 2 / 10; the phasor lines let it have 416.7 / √3 / 10, less
    only the polygon's inner radius (cos(π/48))."""
    magnitudes = allocate(_caltech_like(30, phasor=False, transformer=False))
    phasor = allocate(_caltech_like(30, phasor=True, transformer=False))
    assert magnitudes.sessions[0].limit_a == math.floor(416.7 / 20 * 1e6) / 1e6
    exact = 416.7 / math.sqrt(3) / 10
    got = phasor.sessions[0].limit_a
    assert exact * math.cos(math.pi / 48) - 1e-5 <= got <= exact
    assert overloads(_caltech_like(30, phasor=True, transformer=False), phasor) == []


def test_transformer_primary_binds_on_uneven_load() -> None:
    """Only CA chargers: secondary line a carries I per car, but primary A carries
    2·I/4 per car, so the primary (180.5 A) holds them at 361 A in all, not 416.7."""
    problem = _caltech_like(30, phasor=False, transformer=True)
    ca_only = Problem(
        problem.nodes,
        tuple(d for i, d in enumerate(problem.demands) if i % 3 == 2),
    )
    plan = allocate(ca_only)
    total = sum(e.limit_a for e in plan.sessions)
    assert overloads(ca_only, plan) == []
    assert 180.5 * 2 * math.cos(math.pi / 48) - 1e-3 <= total <= 180.5 * 2
    assert plan.sessions[0].reason.startswith("limited_by:site/primary_")


def test_lines_above_a_transformer_carry_its_primary_current() -> None:
    """A 480 V service (40 A) feeding a 4:1 transformer: cars on its secondary are held by
    the service's fuse at their primary current, not their secondary one."""
    nodes = (
        Node("service", None, (40.0, 40.0, 40.0)),
        Node("tx", "service", (400.0, 400.0, 400.0), transformer=Transformer(4.0, 1000.0)),
    )
    demands = tuple(
        Demand(
            f"s{i}",
            "tx",
            32.0,
            rotation=PhaseRotation.parse("RS"),
            power_type=PowerType.AC_1_PHASE,
            line_to_line=True,
        )
        for i in range(12)
    )
    problem = Problem(nodes, demands)
    plan = allocate(problem)
    assert overloads(problem, plan) == []
    total = sum(e.limit_a for e in plan.sessions)
    # AB cars put 2·I/4 on primary line B: the service holds them at 80 A in all.
    assert 80.0 * math.cos(math.pi / 48) - 1e-3 <= total <= 80.0
    service = plan.node("service")
    assert max(service.allocated) <= 40.0 + 1e-6


@CASES
@given(wired_problems(), st.data())
def test_every_charger_offline_at_once_stays_within_the_wired_limits(
    problem: Problem, data: st.DataObject
) -> None:
    """The failsafe plan on a wired network: overrides and automatic offline currents
    together, judged on the true phasor sums (overrides are refused where they do not
    fit)."""
    chargers = []
    for d in problem.demands:
        override = data.draw(st.one_of(st.none(), st.floats(0.0, 32.0)))
        chargers.append(
            OfflineCharger(
                charger_id=d.session_id,
                node_id=d.node_id,
                rotation=d.rotation,
                phase_count=d.rotation.phase_count if not d.line_to_line else 1,
                offline_current=override,
                line_to_line=d.line_to_line,
            )
        )
    plan = failsafe_plan(problem.nodes, tuple(chargers))
    sessions = tuple(
        SessionPlan(s.charger_id, s.current, 1, s.grid_phases, s.reason) for s in plan.chargers
    )
    offline = Problem(problem.nodes, problem.demands)
    assert overloads(offline, Plan(sessions, ())) == []
