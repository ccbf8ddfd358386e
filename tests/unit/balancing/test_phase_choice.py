"""phaseToUse: a 1-phase car on a phase-switching 3-phase EVSE goes where the headroom is.

Examples for the choice itself; properties that a problem with chosen terminals (as the
control loop counts them, ``put_on``) still gets a plan that keeps every fuse, and that
the first candidate always gets the terminal whose grid phase has the most headroom.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.balancing import Demand, Node, Problem, allocate
from chargegrid.balancing.phase_choice import choose_terminals
from chargegrid.control.problem import put_on
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.phases import PhaseRotation

from .checks import check_phases, check_safety
from .strategies import grid_phases, path_to_root, problems

SITE = Node("site", None, (16.0, 16.0, 16.0))


def one_phase_car(sid: str, at: float, rotation: str = "RST", node: str = "site") -> Demand:
    return Demand(
        session_id=sid,
        node_id=node,
        max_current=16.0,
        rotation=PhaseRotation.parse(rotation),
        used_terminals=(1,),
        plugged_in_at=at,
    )


def test_three_one_phase_cars_go_to_three_phases() -> None:
    cars = tuple(one_phase_car(f"c{i}", float(i)) for i in range(3))
    chosen = choose_terminals(Problem((SITE,), cars), [c.session_id for c in cars])
    assert sorted(chosen.values()) == [1, 2, 3]
    # Each then gets the whole 16 A of its own phase; left on terminal 1 they would
    # share L1 (two at 8 A, the third below its 6 A minimum).
    placed = tuple(replace(c, used_terminals=(chosen[c.session_id],)) for c in cars)
    plan = allocate(Problem((SITE,), placed))
    assert [s.limit_a for s in plan.sessions] == [16.0, 16.0, 16.0]
    unplaced = allocate(Problem((SITE,), cars))
    assert sorted(s.limit_a for s in unplaced.sessions) == [0.0, 8.0, 8.0]


def test_the_choice_goes_through_the_rotations_to_the_grid() -> None:
    # Building load fills L1 and L2; the connector is wired STR (terminal 2 -> L3).
    site = Node("site", None, (32.0, 32.0, 32.0), unmanaged=(30.0, 25.0, 0.0))
    car = one_phase_car("c", 0.0, rotation="STR")
    chosen = choose_terminals(Problem((site,), (car,)), ["c"])
    assert chosen == {"c": 2}
    assert grid_phases(Problem((site,), (replace(car, used_terminals=(2,)),)), car) != ()


def test_a_circuit_rotated_under_the_site_is_followed() -> None:
    site = Node("site", None, (32.0, 32.0, 32.0), unmanaged=(0.0, 0.0, 20.0))
    circuit = Node("c1", "site", (16.0, 16.0, 16.0), rotation=PhaseRotation.parse("TRS"))
    car = one_phase_car("c", 0.0, node="c1")
    # Circuit L1 is grid L3 (busy): terminal 1 is the worst choice; L2/L3 of the
    # circuit are grid L1/L2 with 16 A each: the first of those wins.
    chosen = choose_terminals(Problem((site, circuit), (car,)), ["c"])
    assert chosen == {"c": 2}


def test_ties_keep_terminal_one() -> None:
    chosen = choose_terminals(Problem((SITE,), (one_phase_car("c", 0.0),)), ["c"])
    assert chosen == {"c": 1}


def candidates_of(problem: Problem) -> list[str]:
    return [
        d.session_id
        for d in problem.demands
        if d.rotation.phase_count == 3 and d.power_type is PowerType.AC_3_PHASE
    ]


@settings(max_examples=examples(75, 300), deadline=None)
@given(problems(), st.data())
def test_counted_as_the_loop_counts_them_every_fuse_holds(
    problem: Problem, data: st.DataObject
) -> None:
    chosen = choose_terminals(problem, candidates_of(problem))
    # Before a reading shows the car on its terminal it counts on 1 and there; after
    # one, there alone (or wherever it was seen).
    seen = data.draw(st.booleans())
    demands = tuple(
        replace(
            d,
            used_terminals=put_on((chosen[d.session_id],) if seen else None, chosen[d.session_id]),
        )
        if d.session_id in chosen
        else d
        for d in problem.demands
    )
    placed = replace(problem, demands=demands)
    plan = allocate(placed)
    check_safety(placed, plan)
    check_phases(placed, plan)


@settings(max_examples=examples(75, 300), deadline=None)
@given(problems())
def test_the_first_candidate_gets_the_most_headroom(problem: Problem) -> None:
    """Read independently: after every demand that does not choose has its maximum on
    its grid phases, the first candidate's terminal leaves the most on its whole path."""
    candidates = candidates_of(problem)
    if not candidates:
        return
    pool = [d for d in problem.demands if d.session_id in candidates]
    first = min(pool, key=lambda d: d.plugged_in_at)
    if sum(d.plugged_in_at == first.plugged_in_at for d in pool) > 1:
        return  # equal plug-in times: the order among them is not specified
    others = [d for d in problem.demands if d.session_id not in candidates]
    path = path_to_root(problem.nodes, first.node_id)

    def room(terminal: int) -> float:
        probe = replace(first, used_terminals=(terminal,))
        phases = grid_phases(replace(problem, demands=(probe,)), probe)
        if len(phases) != 1:
            return float("-inf")
        (phase,) = phases
        free = []
        for node in path:
            taken = sum(
                o.max_current
                for o in others
                if phase in grid_phases(problem, o)
                and node.id in {n.id for n in path_to_root(problem.nodes, o.node_id)}
            )
            i = phase.index
            free.append(node.limit[i] - node.unmanaged[i] - node.reserved[i] - taken)
        return min(free)

    chosen = choose_terminals(problem, candidates)[first.session_id]
    assert room(chosen) >= max(room(t) for t in (1, 2, 3)) - 1e-6
