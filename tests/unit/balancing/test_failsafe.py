"""Rule 8: every charger at its offline current at once respects every fuse."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.balancing import Node, OfflineCharger, failsafe_plan, uniform
from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import OfflinePhase, Phase, PhaseRotation

from .strategies import path_to_root, rotations, trees


@st.composite
def fleets(draw: st.DrawFn) -> tuple[tuple[Node, ...], tuple[OfflineCharger, ...], bool]:
    nodes = draw(trees(max_circuits=4))
    chargers = []
    for i in range(draw(st.integers(0, 10))):
        node = draw(st.sampled_from(nodes))
        rotation = draw(rotations(node.rotation.phase_count))
        chargers.append(
            OfflineCharger(
                charger_id=f"ch{i}",
                node_id=node.id,
                rotation=rotation,
                phase_count=draw(st.sampled_from([1, 3])) if rotation.phase_count == 3 else 1,
                min_current=draw(st.sampled_from([6.0, 6.0, 0.0, 8.0])),
                max_current=draw(st.sampled_from([16.0, 32.0, 10.0])),
                offline_current=draw(st.none() | st.floats(0.0, 32.0)),
                offline_phase=draw(st.sampled_from(list(OfflinePhase))),
            )
        )
    return nodes, tuple(chargers), draw(st.booleans())


@settings(
    max_examples=examples(100, 500), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(fleets())
def test_all_chargers_offline_together_respect_every_fuse(
    fleet: tuple[tuple[Node, ...], tuple[OfflineCharger, ...], bool],
) -> None:
    nodes, chargers, to_min = fleet
    plan = failsafe_plan(nodes, chargers, limit_to_min_current=to_min)
    parts: dict[tuple[str, Phase], list[float]] = {}
    refused = {c.charger_id for c in plan.conflicts}
    for charger, setting in zip(chargers, plan.chargers, strict=True):
        assert setting.charger_id == charger.charger_id
        assert setting.current == 0.0 or setting.current >= charger.min_current
        if setting.overridden:
            assert charger.offline_current is not None and charger.charger_id not in refused
            wanted = min(charger.offline_current, 32.0)
            assert setting.current == (wanted if wanted >= charger.min_current else 0.0)
        else:
            assert setting.current <= (charger.min_current if to_min else charger.max_current)
            assert charger.offline_current is None or charger.charger_id in refused
        for node in path_to_root(nodes, charger.node_id):
            for phase in setting.grid_phases:
                parts.setdefault((node.id, phase), []).append(setting.current)
    for node in nodes:
        for phase in Phase:
            values = parts.get((node.id, phase), [])
            if any(v > 0 for v in values):
                held = (node.unmanaged[phase.index], node.reserved[phase.index])
                assert math.fsum((*held, *values)) <= node.limit[phase.index]


def test_automatic_offline_current_shares_the_fuse() -> None:
    chargers = tuple(OfflineCharger(f"c{i}", "site") for i in range(3))
    plan = failsafe_plan((Node("site", None, uniform(32.0)),), chargers)
    assert [c.current for c in plan.chargers] == pytest.approx([32 / 3] * 3, abs=1e-5)
    assert all(c.phase is OfflinePhase.ALL for c in plan.chargers)
    limited = failsafe_plan(
        (Node("site", None, uniform(32.0)),), chargers, limit_to_min_current=True
    )
    assert [c.current for c in limited.chargers] == [6.0, 6.0, 6.0]


def test_too_many_chargers_for_their_minimums_get_zero_offline() -> None:
    chargers = tuple(OfflineCharger(f"c{i}", "site") for i in range(6))
    plan = failsafe_plan((Node("site", None, uniform(32.0)),), chargers)
    assert [c.current for c in plan.chargers] == [6.4] * 5 + [0.0]


def test_auto_drops_to_one_phase_where_three_do_not_fit() -> None:
    plan = failsafe_plan((Node("site", None, (20.0, 20.0, 4.0)),), (OfflineCharger("c", "site"),))
    setting = plan.charger("c")
    assert (setting.current, setting.phase, setting.grid_phases) == (
        20.0,
        OfflinePhase.L1,
        (Phase.L1,),
    )


def test_phase_override_follows_the_rotation() -> None:
    charger = OfflineCharger(
        "c", "site", rotation=PhaseRotation.parse("STR"), offline_phase=OfflinePhase.L2
    )
    plan = failsafe_plan((Node("site", None, uniform(16.0)),), (charger,))
    # charger conductor 2 -> grid L3 under STR.
    assert plan.charger("c").grid_phases == (Phase.L3,)
    assert plan.charger("c").current == 16.0


def test_overriding_beyond_the_fuse_is_a_conflict_not_applied() -> None:
    chargers = (
        OfflineCharger("a", "site", offline_current=20.0),
        OfflineCharger("b", "site", offline_current=20.0),
        OfflineCharger("c", "site"),
    )
    plan = failsafe_plan((Node("site", None, uniform(32.0)),), chargers)
    assert [(c.charger_id, c.phase, c.requested) for c in plan.conflicts] == [("b", Phase.L1, 20.0)]
    assert plan.charger("a").current == 20.0 and plan.charger("a").overridden
    # b falls back to automatic and shares the 12 A left with c.
    assert plan.charger("b").current == 6.0 and not plan.charger("b").overridden
    assert plan.charger("c").current == 6.0
    with pytest.raises(InvalidValue) as err:
        plan.raise_for_conflicts()
    assert err.value.errors[0].field == "offline_charge_current"
    assert "b" in err.value.errors[0].message


def test_override_below_minimum_means_no_offline_charging() -> None:
    plan = failsafe_plan(
        (Node("site", None, uniform(32.0)),), (OfflineCharger("a", "site", offline_current=4.0),)
    )
    assert (plan.charger("a").current, plan.charger("a").reason) == (0.0, "override_below_min")
    plan.raise_for_conflicts()
