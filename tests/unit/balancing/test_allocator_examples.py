"""The allocator's rules on small sites whose right answer is known by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chargegrid.balancing import Demand, Node, Problem, allocate, to_grid, uniform
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import Phase, PhaseRotation

ONE = PowerType.AC_1_PHASE
L1, L2, L3 = Phase.L1, Phase.L2, Phase.L3


def rot(text: str) -> PhaseRotation:
    return PhaseRotation.parse(text)


def site(limit: float, **kw: object) -> Node:
    return Node("site", None, uniform(limit), **kw)  # type: ignore[arg-type]


def test_three_single_phase_cars_rotated_r_s_t_each_get_16a() -> None:
    demands = tuple(
        Demand(f"car{i}", "site", 32.0, rotation=rot(r), power_type=ONE)
        for i, r in enumerate(["RST", "STR", "TRS"])
    )
    plan = allocate(Problem((site(16.0),), demands))
    assert [e.limit_a for e in plan.sessions] == [16.0, 16.0, 16.0]
    assert [e.grid_phases for e in plan.sessions] == [(L1,), (L2,), (L3,)]
    assert plan.node("site").headroom == (0.0, 0.0, 0.0)


def test_without_rotation_the_same_three_cars_share_one_phase() -> None:
    demands = tuple(Demand(f"car{i}", "site", 32.0, power_type=ONE) for i in range(3))
    plan = allocate(Problem((site(16.0),), demands))
    # 16 A on L1 holds two 6 A minimums; the third (last plugged in) waits.
    assert [e.limit_a for e in plan.sessions] == [8.0, 8.0, 0.0]
    assert plan.sessions[2].reason == "below_min_not_admitted"


def test_str_connector_under_str_circuit_loads_grid_l3() -> None:
    nodes = (site(32.0), Node("c", "site", uniform(16.0), rot("STR")))
    car = Demand("car", "c", 32.0, rotation=rot("STR"), power_type=ONE)
    plan = allocate(Problem(nodes, (car,)))
    # circuit L1 -> grid L2; connector L1 -> circuit L2 -> grid L3.
    assert plan.session("car").grid_phases == (L3,)
    assert plan.session("car").limit_a == 16.0
    assert plan.session("car").reason == "limited_by:c/L3"


def test_learnt_phases_narrow_what_a_car_loads() -> None:
    car = Demand("car", "site", 32.0, used_terminals=(1, 2))
    other = Demand("other", "site", 32.0, power_type=ONE, rotation=rot("TRS"))
    plan = allocate(Problem((site(20.0),), (car, other)))
    assert plan.session("car").grid_phases == (L1, L2)
    assert plan.session("car").limit_a == 20.0
    assert plan.session("other").grid_phases == (L3,)
    assert plan.session("other").limit_a == 20.0


def test_priority_then_plug_in_time_decide_admission() -> None:
    demands = (
        Demand("late", "site", 32.0, plugged_in_at=30.0),
        Demand("early", "site", 32.0, plugged_in_at=10.0),
        Demand("vip", "site", 32.0, plugged_in_at=50.0, weight=2.0),
    )
    plan = allocate(Problem((site(13.0),), demands))
    assert plan.session("vip").limit_a == 7.0
    assert plan.session("early").limit_a == 6.0
    assert plan.session("late").limit_a == 0.0
    assert plan.session("late").reason == "below_min_not_admitted"


def test_weights_share_in_proportion() -> None:
    demands = (Demand("a", "site", 32.0), Demand("b", "site", 32.0, weight=3.0))
    plan = allocate(Problem((site(32.0),), demands))
    assert (plan.session("a").limit_a, plan.session("b").limit_a) == (8.0, 24.0)
    assert plan.session("a").reason == "fair_share"


def test_capped_session_leaves_the_rest_to_others() -> None:
    demands = (Demand("small", "site", 10.0), Demand("big", "site", 32.0))
    plan = allocate(Problem((site(32.0),), demands))
    assert plan.session("small").limit_a == 10.0
    assert plan.session("small").reason == "at_max"
    assert plan.session("big").limit_a == 22.0


def test_a_node_overloaded_by_unmanaged_load_gives_its_sessions_zero() -> None:
    nodes = (site(63.0), Node("garage", "site", uniform(16.0), unmanaged=(20.0, 0.0, 0.0)))
    demands = (Demand("in", "garage", 32.0), Demand("out", "site", 32.0))
    plan = allocate(Problem(nodes, demands))
    assert plan.session("in").limit_a == 0.0
    assert plan.session("out").limit_a == 32.0
    assert plan.node("garage").headroom[0] == -4.0


def test_reserved_capacity_counts_like_load() -> None:
    nodes = (Node("site", None, uniform(32.0), reserved=(10.0, 10.0, 10.0)),)
    plan = allocate(Problem(nodes, (Demand("a", "site", 32.0),)))
    assert plan.session("a").limit_a == 22.0


def test_dc_session_loads_all_three_phases_balanced() -> None:
    dc = Demand("dc", "site", 40.0, power_type=PowerType.DC, used_terminals=(1,))
    plan = allocate(Problem((site(25.0),), (dc,)))
    assert plan.session("dc").grid_phases == (L1, L2, L3)
    assert plan.session("dc").limit_a == 25.0


def test_max_below_min_is_refused_with_its_own_reason() -> None:
    plan = allocate(Problem((site(32.0),), (Demand("a", "site", 4.0, min_current=6.0),)))
    assert (plan.session("a").limit_a, plan.session("a").reason) == (0.0, "max_below_min")


def test_zero_weight_only_gets_what_is_left() -> None:
    demands = (
        Demand("paid", "site", 20.0),
        Demand("free", "site", 32.0, weight=0.0),
    )
    plan = allocate(Problem((site(30.0),), demands))
    assert plan.session("paid").limit_a == 20.0
    assert plan.session("free").limit_a == 10.0


def test_deadline_gets_the_urgent_car_more() -> None:
    now = 1_000_000.0
    relaxed = Demand("relaxed", "site", 32.0)
    # Needs 20 kWh in 1.2 h on 3 x 230 V: 0.906 h at its 32 A, a laxity of 0.294 h. The
    # car without a deadline competes as if its laxity were 0.5 h, above a floor of half
    # its fair share (7.5 A). Over a 1 h horizon each holds 32 (t + 1 - laxity); the site
    # fills when the two sum to 30 A.
    urgent = Demand("urgent", "site", 32.0, departure_at=now + 4320.0, energy_wanted_wh=20_000.0)
    plan = allocate(Problem((site(30.0),), (relaxed, urgent), now=now))
    laxity = 1.2 - 20_000.0 / (230.0 * 3) / 32.0
    level = (30.0 - 32.0 * (1 - laxity) - 32.0 * (1 - 0.5)) / 64.0
    assert plan.session("urgent").limit_a == pytest.approx(32.0 * (level + 1 - laxity))
    assert plan.session("relaxed").limit_a == pytest.approx(32.0 * (level + 0.5))
    assert plan.session("relaxed").limit_a > 7.5
    assert plan.session("urgent").weight == 1.0


# --- 3 -> 1 phase switching ---------------------------------------------------------


def switchable(session_id: str = "car", **kw: object) -> Demand:
    return Demand(session_id, "site", 32.0, can_switch_phases=True, **kw)  # type: ignore[arg-type]


def test_switches_to_one_phase_when_three_phase_minimum_does_not_fit() -> None:
    nodes = (Node("site", None, (20.0, 20.0, 4.0)),)
    plan = allocate(Problem(nodes, (switchable(),)))
    entry = plan.session("car")
    assert (entry.limit_a, entry.phases, entry.grid_phases) == (20.0, 1, (L1,))
    assert entry.reason == "switched_to_1_phase"


def test_without_permission_it_does_not_switch() -> None:
    nodes = (Node("site", None, (20.0, 20.0, 4.0)),)
    plan = allocate(Problem(nodes, (Demand("car", "site", 32.0),)))
    assert plan.session("car").limit_a == 0.0


def test_low_site_availability_switches_every_switchable_session() -> None:
    problem = Problem(
        (site(14.0),),
        (switchable("a"), switchable("b", rotation=rot("STR")), Demand("c", "site", 8.0)),
        three_to_one_phase_switch_current=16.0,
    )
    plan = allocate(problem)
    assert plan.session("a").grid_phases == (L1,)
    assert plan.session("b").grid_phases == (L2,)
    assert plan.session("c").grid_phases == (L1, L2, L3)
    # L1 carries a and c, L2 carries b and c: 7 A each fills both.
    assert [e.limit_a for e in plan.sessions] == [7.0, 7.0, 7.0]


def test_hysteresis_keeps_one_phase_until_clearly_above_threshold() -> None:
    down = Problem((site(15.0),), (switchable(),), three_to_one_phase_switch_current=16.0)
    first = allocate(down)
    assert first.session("car").phases == 1
    # Availability creeps just over the threshold: still within the hysteresis band.
    near = replace(down, nodes=(site(17.0),), previous=first)
    assert allocate(near).session("car").phases == 1
    clear = replace(down, nodes=(site(18.5),), previous=first)
    assert allocate(clear).session("car").phases == 3
    # A session that was on 3 phases switches down only below the threshold itself.
    assert allocate(replace(near, previous=None)).session("car").phases == 3


def test_hysteresis_on_minimum_fit_when_going_back_up() -> None:
    tight = Problem((Node("site", None, (20.0, 20.0, 5.0)),), (switchable(),))
    first = allocate(tight)
    assert first.session("car").phases == 1
    # L3 frees to 7 A: 6 A fits, but not 6 A + 2 A hysteresis, so it stays on 1 phase.
    again = replace(tight, nodes=(Node("site", None, (20.0, 20.0, 7.0)),), previous=first)
    assert allocate(again).session("car").phases == 1
    wide = replace(again, nodes=(Node("site", None, (20.0, 20.0, 8.5)),))
    assert allocate(wide).session("car").phases == 3


def test_switch_cap_keeps_the_phases_in_force() -> None:
    first = allocate(Problem((site(32.0),), (switchable(),)))
    assert first.session("car").phases == 3
    tight = Problem(
        (Node("site", None, (20.0, 20.0, 4.0)),),
        (switchable(phase_switches=3),),
        max_phase_switches=3,
        previous=first,
    )
    # Out of switches: it may not drop to 1 phase, and 3 phases do not fit.
    assert allocate(tight).session("car").limit_a == 0.0
    assert allocate(replace(tight, max_phase_switches=4)).session("car").phases == 1


# --- input checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        ((Node("a", None, uniform(1)), Node("b", None, uniform(1))), "nodes"),
        ((Node("a", None, uniform(1)), Node("b", "zzz", uniform(1))), "nodes[b].parent_id"),
        ((Node("a", None, uniform(1)), Node("a", None, uniform(1))), "nodes[a].id"),
        ((Node("a", None, (1.0, float("nan"), 1.0)),), "nodes[a].limit"),
        (
            (
                Node("a", None, uniform(1)),
                Node("b", "a", uniform(1), rot("S")),
                Node("c", "b", uniform(1), rot("RS")),
            ),
            "nodes[c].rotation",
        ),
    ],
)
def test_broken_trees_name_the_field(nodes: tuple[Node, ...], field: str) -> None:
    with pytest.raises(InvalidValue) as err:
        allocate(Problem(nodes, ()))
    assert field in [e.field for e in err.value.errors]


def test_unknown_node_and_negative_weight_name_the_field() -> None:
    demands = (Demand("a", "nowhere", 16.0), Demand("b", "site", 16.0, weight=-1.0))
    with pytest.raises(InvalidValue) as err:
        allocate(Problem((site(32.0),), demands))
    assert {e.field for e in err.value.errors} == {"demands[0].node_id", "demands[1].weight"}


def test_to_grid_reindexes_a_meter_by_grid_phase() -> None:
    assert to_grid(rot("STR"), (1.0, 2.0, 3.0)) == (3.0, 1.0, 2.0)
    assert to_grid(rot("T"), (5.0, 9.0, 9.0)) == (0.0, 0.0, 5.0)
