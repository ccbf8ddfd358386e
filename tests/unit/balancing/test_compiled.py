"""The allocator's speed paths give the answers of the slow ones: a topology compiled
once and reused, node values patched from the last call, plan objects filled slot by
slot."""

from __future__ import annotations

import math
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.balancing import (
    Demand,
    Node,
    NodeLoad,
    Problem,
    SessionPlan,
    allocate,
    uniform,
)
from chargegrid.balancing import tree as tree_module
from chargegrid.balancing.model import make_node_loads, make_session_plans
from chargegrid.balancing.tree import build_tree, clear_topology_cache, compile_topology
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import Phase, PhaseRotation

from .strategies import problems

SOME = settings(
    max_examples=examples(75, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _site(circuits: int, chargers: int) -> Problem:
    """Rotated circuits and chargers, 1- and 3-phase cars, two minimums and priorities,
    some allowed to switch: tight enough that every level binds somewhere."""
    rotations = [PhaseRotation.parse(r) for r in ("RST", "STR", "TRS")]
    nodes = [Node("site", None, uniform(4.0 * circuits * chargers), unmanaged=(5.0, 9.0, 0.0))]
    demands = []
    for c in range(circuits):
        circuit = f"c{c}"
        nodes.append(Node(circuit, "site", uniform(5.0 * chargers), rotations[c % 3]))
        for k in range(chargers):
            charger = f"{circuit}/{k}"
            nodes.append(Node(charger, circuit, uniform(32.0), rotations[k % 3]))
            demands.append(
                Demand(
                    f"{charger}/s",
                    charger,
                    (16.0, 32.0, 10.0)[k % 3],
                    power_type=PowerType.AC_1_PHASE if k % 3 == 0 else PowerType.AC_3_PHASE,
                    min_current=(6.0, 8.0)[k % 2],
                    weight=(1.0, 2.0)[k % 4 == 0],
                    plugged_in_at=float((k * 7919) % 1000),
                    can_switch_phases=k % 2 == 1,
                )
            )
    return Problem(tuple(nodes), tuple(demands))


def _cold(problem: Problem) -> object:
    clear_topology_cache()
    try:
        return allocate(problem)
    except InvalidValue as exc:
        return exc.errors


def _scaled(problem: Problem, factor: float) -> Problem:
    """Same structure, other limits and meter readings."""
    nodes = tuple(
        replace(
            n,
            limit=(n.limit[0] * factor, n.limit[1], n.limit[2] * factor),
            unmanaged=(n.unmanaged[0], n.unmanaged[1] * factor, n.unmanaged[2]),
        )
        for n in problem.nodes
    )
    return replace(problem, nodes=nodes)


@SOME
@given(problems(), st.floats(0.3, 1.7))
def test_warm_calls_answer_as_cold_ones(problem: Problem, factor: float) -> None:
    """A call after others on the same topology (other values, then the same values in
    new objects) gives exactly the plan of a first call."""
    other = _scaled(problem, factor)
    expected = _cold(problem)
    expected_other = _cold(other)
    clear_topology_cache()
    for _ in range(2):
        assert allocate(other) == expected_other
        assert allocate(problem) == expected
        assert allocate(pickle.loads(pickle.dumps(problem))) == expected


def test_a_bad_number_after_a_good_call_is_still_refused() -> None:
    good = (Node("site", None, uniform(32.0)), Node("c", "site", uniform(16.0)))
    allocate(Problem(good, ()))
    bad = (good[0], replace(good[1], unmanaged=(1.0, math.nan, 0.0)))
    with pytest.raises(InvalidValue) as err:
        allocate(Problem(bad, ()))
    assert [e.field for e in err.value.errors] == ["nodes[c].unmanaged"]


def test_broken_structures_are_never_cached() -> None:
    broken = (Node("site", None, uniform(32.0)), Node("c", "nowhere", uniform(16.0)))
    for _ in range(2):
        with pytest.raises(InvalidValue):
            allocate(Problem(broken, ()))


def test_a_changed_rotation_is_a_new_topology() -> None:
    """Rotations are part of the structure: changing one must not reuse the old wiring."""
    nodes = (Node("site", None, uniform(32.0)), Node("c", "site", uniform(16.0)))
    rotated = (nodes[0], replace(nodes[1], rotation=PhaseRotation.parse("TRS")))
    assert build_tree(nodes).to_grid[0].targets == (Phase.L1, Phase.L2, Phase.L3)
    assert build_tree(rotated).to_grid[0].targets == (Phase.L3, Phase.L1, Phase.L2)


def test_the_topology_cache_is_bounded() -> None:
    clear_topology_cache()
    for i in range(tree_module._TOPOLOGY_CACHE_SIZE + 10):
        build_tree((Node(f"site-{i}", None, uniform(32.0)),))
    assert len(tree_module._topologies) == tree_module._TOPOLOGY_CACHE_SIZE


def test_node_values_patch_matches_a_fresh_compile() -> None:
    nodes = (
        Node("site", None, uniform(63.0), unmanaged=(10.0, 0.0, 5.5)),
        Node("a", "site", uniform(32.0)),
        Node("b", "site", (16.0, 16.0, 10.0), reserved=(0.0, 6.0, 0.0)),
    )
    build_tree(nodes)
    changed = (replace(nodes[0], unmanaged=(70.0, 1.0, 0.1)), *nodes[1:])
    patched = build_tree(changed)
    clear_topology_cache()
    fresh = build_tree(changed)
    assert patched.values == fresh.values
    assert patched.capacity[patched.index["site"] * 3] == 0.0  # overloaded: nothing left
    assert compile_topology(changed).order == patched.shape.order


def test_plan_objects_built_by_columns_equal_constructed_ones() -> None:
    phases = (Phase.L2,)
    built = make_session_plans(
        ["a", "b"],
        [16.0, 0.0],
        [1, 3],
        [phases, ()],
        ["at_max", "x"],
        [("n", Phase.L2), None],
        [1.0, 2.0],
    )
    assert built == (
        SessionPlan("a", 16.0, 1, phases, "at_max", ("n", Phase.L2), 1.0),
        SessionPlan("b", 0.0, 3, (), "x", None, 2.0),
    )
    three = (1.0, 2.0, 3.0)
    assert make_node_loads(["n"], [three], [three], [three], [three], [three]) == (
        NodeLoad("n", three, three, three, three, three),
    )
    with pytest.raises(ValueError):
        make_node_loads(["n", "m"], [three], [three], [three], [three], [three])


def test_threads_sharing_a_topology_get_their_own_answers() -> None:
    """The caches are shared by every caller (one control loop per site, possibly in
    worker threads): calls on the same structure with different values, racing, each
    get the plan of a cold call on their own input."""
    problems_by_factor = {f: _scaled(_site(3, 20), f) for f in (0.6, 0.8, 1.0, 1.2)}
    expected = {f: _cold(p) for f, p in problems_by_factor.items()}
    clear_topology_cache()
    work = [f for _ in range(25) for f in problems_by_factor]
    with ThreadPoolExecutor(max_workers=4) as pool:
        plans = list(pool.map(lambda f: allocate(problems_by_factor[f]), work))
    for factor, plan in zip(work, plans, strict=True):
        assert plan == expected[factor], factor
