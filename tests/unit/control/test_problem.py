"""Problem building: rotations down the tree, unmanaged and reserved load summed up it,
held chargers, learnt phases and caps, and the per-EVSE failsafe."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chargegrid.balancing import allocate, check_plan
from chargegrid.control.apply import EvseKey
from chargegrid.control.failsafe import failsafe_limits, signature
from chargegrid.control.learner import LearnerSettings, SessionLearner
from chargegrid.control.meters import MeterBook, PeakHold
from chargegrid.control.problem import Inputs, build_problem
from chargegrid.control.profiles import ChargerCaps, Limit
from chargegrid.control.snapshot import (
    ChargerSpec,
    ConnectorSpec,
    EvseSpec,
    MeterSpec,
    NodeSpec,
    SessionSpec,
    SiteSnapshot,
)
from chargegrid.domain.limits import Override
from chargegrid.domain.phases import Phase

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def node(
    id_: str, parent: str | None, amps: float, rotation: str = "RST", meter: str | None = None
) -> NodeSpec:
    kind = "site" if parent is None else "circuit"
    return NodeSpec(id_, kind, id_, parent, amps, Override(), rotation, meter, 10.0)


def charger(id_: str, node_id: str, rotation: str, power: str = "AC_3_PHASE") -> ChargerSpec:
    connector = ConnectorSpec(1, power, rotation, 32.0, None)
    phases = 1 if power == "AC_1_PHASE" else 3
    return ChargerSpec(
        id_, f"CP-{id_}", node_id, True, ChargerCaps(), None, 6.0, phases, -1.0, 0, 1.0,
        (EvseSpec(1, True, (connector,)),),
    )  # fmt: skip


def session(id_: str, charger_id: str) -> SessionSpec:
    return SessionSpec(id_, charger_id, 1, 1, 1, NOW, None, None, None, None, 0.0)


def snapshot(*, meter_on_b: bool = False) -> SiteSnapshot:
    # Site 40 A; circuit B (20 A, STR) under it, circuit C (16 A, RST) under B.
    return SiteSnapshot(
        site_id="site",
        name="S",
        voltage=230.0,
        three_to_one_phase_switch_current=None,
        offline_limit_to_min_current=False,
        nodes=(
            node("site", None, 40.0),
            node("B", "site", 20.0, "STR", "mB" if meter_on_b else None),
            node("C", "B", 16.0),
        ),
        chargers=(charger("one", "C", "R", "AC_1_PHASE"), charger("three", "site", "RST")),
        sessions=(session("s1", "one"), session("s3", "three")),
        meters=(MeterSpec("mB", 60.0),),
    )


def inputs(**changes: object) -> Inputs:
    base = Inputs(
        now_wall=NOW,
        now_mono=100.0,
        learner=SessionLearner(),
        meters=MeterBook(),
        held={},
        failsafe={},
        offline=frozenset(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_rotations_compose_down_the_tree_and_plan_is_safe() -> None:
    built = build_problem(snapshot(), inputs())
    # Connector R on C (RST) under B (STR): terminal 1 -> C L1 -> B L1 -> grid L2.
    assert built.contexts["s1"].to_grid.targets == (Phase.L2,)
    plan = allocate(built.problem)
    check_plan(built.problem, plan)
    assert plan.session("s1").grid_phases == (Phase.L2,)
    assert plan.session("s1").limit_a == 16.0  # circuit C
    assert plan.session("s3").limit_a == 24.0  # the site's L2 after s1's 16 A


def test_fresh_meter_unmanaged_is_reading_minus_our_cars_and_counts_up_the_tree() -> None:
    learner = SessionLearner()
    learner.observe("s1", 99.0, (12.0, None, None), 16.0)  # our car: 12 A on grid L2
    meters = MeterBook()
    # B's meter, on B's own conductors (STR): its L1 is grid L2.
    meters.record("mB", (15.0, 1.0, 2.0), received_at=99.5, age_s=0.0)
    built = build_problem(snapshot(meter_on_b=True), inputs(learner=learner, meters=meters))
    nodes = {n.id: n for n in built.problem.nodes}
    # Grid: L2 = 15 - 12 = 3, L3 = 1, L1 = 2; the same load also flows through the site.
    assert nodes["B"].unmanaged == (2.0, 3.0, 1.0)
    assert nodes["site"].unmanaged == (2.0, 3.0, 1.0)
    assert nodes["C"].unmanaged == (0.0, 0.0, 0.0)
    assert built.measured["B"] == (2.0, 15.0, 1.0)


def test_stale_meter_reserves_offline_current_and_peak_hold_keeps_the_high() -> None:
    built = build_problem(snapshot(meter_on_b=True), inputs())  # never read: stale
    assert {n.id: n.unmanaged for n in built.problem.nodes}["B"] == (10.0, 10.0, 10.0)
    hold = PeakHold(window_s=30.0)
    meters = MeterBook()
    meters.record("mB", (6.0, 6.0, 6.0), received_at=99.0, age_s=0.0)
    build_problem(snapshot(meter_on_b=True), inputs(meters=meters, unmanaged_hold=hold))
    meters.record("mB", (1.0, 1.0, 1.0), received_at=100.0, age_s=0.0)
    later = build_problem(
        snapshot(meter_on_b=True), inputs(meters=meters, unmanaged_hold=hold, now_mono=100.5)
    )
    assert {n.id: n.unmanaged for n in later.problem.nodes}["B"] == (6.0, 6.0, 6.0)


def test_offline_charger_reserved_at_failsafe_and_refusing_one_at_hardware_max() -> None:
    key = EvseKey("one", 1)
    offline = build_problem(
        snapshot(), inputs(offline=frozenset({"one"}), failsafe={key: Limit(8.0, 1)})
    )
    assert "s1" not in offline.contexts
    (held,) = offline.held
    assert held.reason == "charger_offline" and held.load == (0.0, 8.0, 0.0)
    nodes = {n.id: n for n in offline.problem.nodes}
    assert nodes["C"].reserved == nodes["B"].reserved == nodes["site"].reserved == (0, 8, 0)
    flagged = build_problem(snapshot(), inputs(flagged=frozenset({"one"})))
    assert flagged.held[0].limit == Limit(32.0, 1)
    acknowledged = build_problem(
        snapshot(), inputs(flagged=frozenset({"one"}), held={key: Limit(10.0, 1)})
    )
    assert acknowledged.held[0].limit == Limit(10.0, 1)


def test_learnt_phases_and_cap_reach_the_demand() -> None:
    learner = SessionLearner(LearnerSettings(cap_after_s=10.0))
    learner.observe("s3", 0.0, (7.0, 0.2, 0.0), 24.0)  # a 1-phase car on a 3-phase plug
    learner.observe("s3", 20.0, (7.0, 0.1, 0.0), 24.0)
    built = build_problem(snapshot(), inputs(learner=learner, now_mono=20.0))
    demand = next(d for d in built.problem.demands if d.session_id == "s3")
    assert demand.used_terminals == (1,)
    assert demand.max_current == 9.0  # 7 A drawn + 2 A margin


def test_failsafe_fits_every_fuse_and_ignores_the_override() -> None:
    snap = snapshot()
    limits = failsafe_limits(snap, inputs())
    one, three = limits[EvseKey("one", 1)], limits[EvseKey("three", 1)]
    assert one.amps <= 16.0 and three.amps <= 40.0
    assert one.amps + three.amps <= 40.0  # both on grid L2 at once
    squeezed = replace(
        snap, nodes=(replace(snap.nodes[0], override=Override((6.0, 6.0, 6.0))), *snap.nodes[1:])
    )
    assert signature(squeezed) == signature(snap)


def test_an_external_limit_on_the_evse_caps_the_demand() -> None:
    snap = snapshot()
    three = snap.chargers[1]
    (evse,) = three.evses
    limited = replace(three, evses=(replace(evse, external_limit_a=10.0),))
    built = build_problem(replace(snap, chargers=(snap.chargers[0], limited)), inputs())
    demand = next(d for d in built.problem.demands if d.session_id == "s3")
    assert demand.max_current == 10.0
    plan = allocate(built.problem)
    assert plan.session("s3").limit_a == 10.0


def switching_snapshot() -> SiteSnapshot:
    """Three 1-phase cars (chargers set to 1 phase) on 3-phase EVSEs of 2.0.1 stations
    that can switch phases, on a site with 16 A per phase."""
    caps = ChargerCaps(ocpp_version="2.0.1", phase_switching=True)
    chargers = tuple(
        replace(charger(f"p{i}", "site", "RST"), caps=caps, max_charge_phases=1) for i in range(3)
    )
    sessions = tuple(
        replace(session(f"s{i}", f"p{i}"), started_at=NOW.replace(minute=i)) for i in range(3)
    )
    return replace(
        snapshot(), nodes=(node("site", None, 16.0),), chargers=chargers, sessions=sessions
    )


def test_one_phase_cars_are_put_on_the_phases_with_room_before_they_draw() -> None:
    built = build_problem(switching_snapshot(), inputs())
    assert sorted(built.phase_to_use.values()) == [1, 2, 3]
    plan = allocate(built.problem)
    check_plan(built.problem, plan)
    # Until a reading shows a car on its phase it counts on terminal 1 too.
    moved = [d for d in built.problem.demands if built.phase_to_use[d.session_id] != 1]
    assert all(1 in (d.used_terminals or ()) for d in moved)
    # Seen there alone, it counts there alone, and the choice is kept.
    learner = SessionLearner()
    for sid, terminal in built.phase_to_use.items():
        draw = tuple(10.0 if t == terminal else 0.0 for t in (1, 2, 3))
        learner.observe(sid, 1.0, draw, 16.0)
    again = build_problem(
        switching_snapshot(), inputs(learner=learner, phase_to_use=built.phase_to_use)
    )
    assert again.phase_to_use == built.phase_to_use
    assert all(
        d.used_terminals == (built.phase_to_use[d.session_id],) for d in again.problem.demands
    )
    plan = allocate(again.problem)
    check_plan(again.problem, plan)
    assert [s.limit_a for s in plan.sessions] == [16.0, 16.0, 16.0]


def test_no_choice_without_phase_switching_or_on_16() -> None:
    snap = switching_snapshot()
    plain = tuple(replace(c, caps=ChargerCaps(ocpp_version="2.0.1")) for c in snap.chargers)
    assert build_problem(replace(snap, chargers=plain), inputs()).phase_to_use == {}
    old = tuple(replace(c, caps=ChargerCaps(phase_switching=True)) for c in snap.chargers)
    assert build_problem(replace(snap, chargers=old), inputs()).phase_to_use == {}
