"""From configuration to the allocator (issue 16): a transformer circuit, phasor lines,
a charger wired line-to-line and chargers that accept only some currents."""

from __future__ import annotations

from dataclasses import replace

from chargegrid.balancing import allocate, check_plan
from chargegrid.balancing.model import Transformer
from chargegrid.control.apply import EvseKey
from chargegrid.control.problem import build_problem
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import ConnectorSpec, EvseSpec, SiteSnapshot
from chargegrid.domain.phases import Phase

from .test_problem import charger, inputs, node, session


def wired_site() -> SiteSnapshot:
    """A 480 V service (60 A) feeding a 4:1 transformer (secondary 200 A, primary 50 A),
    two 208 V chargers between L1 and L2 on it, one accepting 0/8/16/24/32 A and one
    whole amps only."""
    ll = ConnectorSpec(1, "AC_2_PHASE", "RS", 32.0, None, line_to_line=True)
    stepped = replace(
        charger("a", "tx", "RS", "AC_2_PHASE"),
        evses=(EvseSpec(1, True, (ll,)),),
        allowed_currents=(0.0, 8.0, 16.0, 24.0, 32.0),
    )
    whole = replace(
        charger("b", "tx", "RS", "AC_2_PHASE"),
        evses=(EvseSpec(1, True, (ll,)),),
        current_step=1.0,
    )
    return SiteSnapshot(
        site_id="site",
        name="S",
        voltage=120.0,
        three_to_one_phase_switch_current=None,
        offline_limit_to_min_current=False,
        nodes=(
            node("site", None, 60.0),
            replace(node("tx", "site", 200.0), phasor_lines=True, transformer=(4.0, 50.0)),
        ),
        chargers=(stepped, whole),
        sessions=(session("s1", "a"), session("s2", "b")),
        meters=(),
    )


def test_nodes_and_demands_carry_the_wiring() -> None:
    built = build_problem(wired_site(), inputs())
    tx = next(n for n in built.problem.nodes if n.id == "tx")
    assert tx.transformer == Transformer(4.0, 50.0) and tx.phasor_lines
    s1, s2 = built.problem.demands
    assert s1.line_to_line and s2.line_to_line
    assert s1.allowed_currents == (0.0, 8.0, 16.0, 24.0, 32.0)
    assert s2.allowed_currents == tuple(float(a) for a in range(33))
    plan = allocate(built.problem)
    check_plan(built.problem, plan)
    for entry in plan.sessions:
        assert entry.grid_phases == (Phase.L1, Phase.L2) and entry.phases == 1


def test_a_held_line_to_line_charger_is_counted_on_both_lines() -> None:
    """Offline at 16 A on one phase (numberPhases 1): still 16 A on L1 and on L2."""
    key = EvseKey("a", 1)
    built = build_problem(
        wired_site(),
        inputs(offline=frozenset({"a"}), held={key: Limit(16.0, 1)}),
    )
    (held,) = built.held
    assert held.load == (16.0, 16.0, 0.0)
    tx = next(n for n in built.problem.nodes if n.id == "tx")
    assert tx.reserved == (16.0, 16.0, 0.0)


def test_above_a_transformer_a_held_charger_counts_at_its_primary_share() -> None:
    """16 A between L1 and L2 on a 4:1 transformer's secondary: the service above sees
    (16 + 0) / 4 on primary L1, (16 + 16) / 4 on L2 and (0 + 16) / 4 on L3 at most,
    not 16 A on two of its lines and nothing on the third."""
    key = EvseKey("a", 1)
    built = build_problem(
        wired_site(),
        inputs(offline=frozenset({"a"}), held={key: Limit(16.0, 1)}),
    )
    site = next(n for n in built.problem.nodes if n.id == "site")
    assert site.reserved == (4.0, 8.0, 4.0)
