"""From a site snapshot and what the loop has learnt to the allocator's ``Problem``.

Pure: no I/O. The allocator counts ``unmanaged`` and ``reserved`` only at the node that
carries them, so both are summed up the tree here: load behind a circuit also flows
through every fuse above it.

- **unmanaged**: a node with a fresh meter: its reading minus our sessions' measured
  draw below it (never below what its sub-circuits already account for); a stale
  meter: its ``offline_reserved_current``; no meter: what its sub-circuits report.
  A session whose own reading is older than the meter's age counts as drawing 0, so
  an out-of-date car reading can only over-state the unmanaged load, never hide it.
- **reserved**: EVSEs whose charger cannot be steered right now (offline, or flagged
  after a rejected/unanswered profile) at what they may draw: the acknowledged limit
  until its lease ends, else their failsafe. A session that does not follow its limit
  (``control.compliance``) is reserved too, at the higher of that and its measured draw
  per terminal, until it complies.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from chargegrid.balancing import ZERO, Demand, Node, PhaseAmps, Plan, Problem, to_grid
from chargegrid.balancing.model import Transformer
from chargegrid.balancing.phase_choice import choose_terminals
from chargegrid.control.apply import EvseKey
from chargegrid.control.compliance import ABOVE_LIMIT
from chargegrid.control.compliance import REASON as NOT_FOLLOWING_LIMIT
from chargegrid.control.learner import SessionLearner
from chargegrid.control.meters import MeterBook, PeakHold
from chargegrid.control.profiles import Limit
from chargegrid.control.snapshot import ChargerSpec, ConnectorSpec, SessionSpec, SiteSnapshot
from chargegrid.domain.connectors import PowerType
from chargegrid.domain.deadline_sources import DeadlineSource
from chargegrid.domain.phases import PhaseRotation
from chargegrid.domain.units import dc_input_current

Optional3 = tuple[float | None, float | None, float | None]
# A car's own reading older than this no longer tells how much of a meter's total is ours.
SESSION_READING_MAX_AGE_S = 60.0
# A car just cut, given IEC 61851's reaction time to follow: counted at its old limit.
SLOWING_DOWN = "slowing_down"
# 1<->3 phase switches a session may make before it keeps its phase count (Zaptec's
# default "switches allowed before locking to single phase").
MAX_PHASE_SWITCHES = 5


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the loop knows beyond the snapshot, at one moment."""

    now_wall: datetime
    now_mono: float
    learner: SessionLearner
    meters: MeterBook
    held: Mapping[EvseKey, Limit | None]  # what unsteerable chargers' EVSEs may draw
    failsafe: Mapping[EvseKey, Limit]
    offline: frozenset[str]  # charger ids: not connected
    flagged: frozenset[str] = frozenset()  # charger ids: refused or did not answer
    # EVSEs that may obey a profile of unknown value (a lost call, nothing known before
    # it): counted at their hardware maximum, offline or not.
    uncertain: frozenset[EvseKey] = frozenset()
    unmanaged_hold: PeakHold | None = None  # smooths metered unmanaged load (see PeakHold)
    previous: Plan | None = None
    phase_switches: Mapping[str, int] = field(default_factory=dict)
    # The last round's context and demand of each session, with what they were built
    # from (see DemandMemo); None: build every one.
    memo: DemandMemo | None = None
    # EVSEs whose car does not follow its limit: its latest draw per connector terminal.
    violating: Mapping[EvseKey, Optional3] = field(default_factory=dict)
    # Of ``violating``, those still within the reaction time (compliance.over): held at
    # their draw at once, reported as ``above_limit`` rather than a violation.
    reacting: frozenset[EvseKey] = frozenset()
    # Cars just cut that may still draw their old limit (IEC 61851's reaction time): held
    # at that (``held``) until they have had the time or a reading shows they followed.
    ramping: frozenset[EvseKey] = frozenset()
    # 2.0.1 phaseToUse: the terminal each 1-phase session was put on (the loop keeps it).
    phase_to_use: Mapping[str, int] = field(default_factory=dict)


# session id -> (what its context and demand were built from, the context, the demand).
DemandMemo = dict[str, tuple[tuple[object, ...], "SessionContext", Demand]]


@dataclass(frozen=True, slots=True)
class SessionContext:
    """How to reach one planned session's car."""

    session: SessionSpec
    charger: ChargerSpec
    connector: ConnectorSpec
    to_grid: PhaseRotation  # the connector's terminals on the grid
    key: EvseKey  # (charger, EVSE): kept, not rebuilt, as every round reads it


@dataclass(frozen=True, slots=True)
class HeldEvse:
    key: EvseKey
    limit: Limit
    reason: str  # "charger_offline" | "charger_flagged" | "not_following_limit"
    session: SessionSpec | None
    load: PhaseAmps
    charger: ChargerSpec | None = None
    # not_following_limit: the limit it acknowledged, sent again (None: none binds it).
    told: Limit | None = None


@dataclass(frozen=True, slots=True)
class IdleEvse:
    """An EVSE of a steerable charger that gets 0 A: no session, or disabled."""

    charger: ChargerSpec
    evse_number: int
    transaction_id: int | str | None

    @property
    def key(self) -> EvseKey:
        return EvseKey(self.charger.id, self.evse_number)


@dataclass(frozen=True, slots=True)
class Built:
    problem: Problem
    contexts: dict[str, SessionContext]  # by session id
    held: tuple[HeldEvse, ...]
    idle: tuple[IdleEvse, ...]
    node_to_grid: dict[str, PhaseRotation]
    measured: dict[str, Optional3]  # by node id, per grid phase
    # Open sessions put on one terminal (phaseToUse), incl. those chosen in this round.
    phase_to_use: dict[str, int] = field(default_factory=dict)


def node_rotations(snapshot: SiteSnapshot) -> dict[str, PhaseRotation]:
    """Each node's rotation to the grid (site first, so parents come before children)."""
    by_id = {n.id: n for n in snapshot.nodes}
    result: dict[str, PhaseRotation] = {}

    def resolve(node_id: str, depth: int = 0) -> PhaseRotation:
        if node_id in result:
            return result[node_id]
        node = by_id[node_id]
        own = rotation_of(node.rotation)
        if node.parent_id is None or depth > len(by_id):
            rotation = own
        else:
            rotation = resolve(node.parent_id, depth + 1).then(own)
        result[node_id] = rotation
        return rotation

    for node in snapshot.nodes:
        resolve(node.id)
    return result


def _add(a: PhaseAmps, b: PhaseAmps) -> PhaseAmps:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _ancestor_table(snapshot: SiteSnapshot) -> dict[str, list[str]]:
    """Each node and the nodes above it, up to the site."""
    parents = {n.id: n.parent_id for n in snapshot.nodes}
    table: dict[str, list[str]] = {}
    for node_id in parents:
        chain = [node_id]
        while (parent := parents.get(chain[-1])) is not None and len(chain) <= len(parents):
            chain.append(parent)
        table[node_id] = chain
    return table


# A site has a handful of distinct rotations and a thousand connectors: parse and
# compose each combination once (a round at 1,000 sessions must stay in milliseconds).
@functools.lru_cache(maxsize=1024)
def rotation_of(text: str) -> PhaseRotation:
    return PhaseRotation.parse(text)


@functools.lru_cache(maxsize=4096)
def _compose(base: PhaseRotation, child: str) -> PhaseRotation:
    return base.then(rotation_of(child))


def connector_load(
    to_grid_rot: PhaseRotation, terminals: tuple[int, ...], amps: float
) -> PhaseAmps:
    values = [0.0, 0.0, 0.0]
    for terminal in terminals:
        if terminal <= to_grid_rot.phase_count:
            values[to_grid_rot.target(terminal).index] = amps
    return (values[0], values[1], values[2])


def may_choose_phase(charger: ChargerSpec, connector: ConnectorSpec) -> bool:
    """A 1-phase car (the charger set to 1 phase) on a 3-phase AC connector of a station
    that can switch it to any phase (2.0.1 ACPhaseSwitchingSupported)."""
    power_type = PowerType(connector.power_type)
    return (
        charger.caps.phase_switching
        and charger.caps.ocpp_version.startswith("2")
        and charger.max_charge_phases == 1
        and not power_type.is_dc
        and rotation_of(connector.rotation).phase_count == 3
    )


def energy_still_wanted(session: SessionSpec) -> float | None:
    """The energy still to deliver, which caps what the session is given. A predicted
    energy is a median, not a wish: once the car has taken it, it evidently wants more
    than sessions like it, so it is no longer capped (docs/deadlines.md)."""
    if session.energy_wanted_wh is None:
        return None
    remaining = session.energy_wanted_wh - session.energy_wh
    if remaining <= 0.0 and session.energy_wanted_source == DeadlineSource.PREDICTED:
        return None
    return max(0.0, remaining)


def put_on(learnt: tuple[int, ...] | None, terminal: int) -> tuple[int, ...]:
    """The terminals a car put on ``terminal`` may load: only that one once a reading
    shows it there alone; before (or if it drew elsewhere), terminal 1 too, where it
    draws until the station has applied phaseToUse."""
    if learnt == (terminal,):
        return learnt
    return tuple(sorted({*(learnt or ()), 1, terminal}))


def _terminals(
    learnt: tuple[int, ...] | None, connector_phases: int, phases: int
) -> tuple[int, ...]:
    if learnt is not None:
        return learnt
    return tuple(range(1, min(phases, connector_phases) + 1))


def build_problem(snapshot: SiteSnapshot, inputs: Inputs) -> Built:
    rotations = node_rotations(snapshot)
    contexts: dict[str, SessionContext] = {}
    demands: list[Demand] = []
    held: list[HeldEvse] = []
    idle: list[IdleEvse] = []
    ours: dict[str, PhaseAmps] = {n.id: ZERO for n in snapshot.nodes}
    reserved: dict[str, PhaseAmps] = {n.id: ZERO for n in snapshot.nodes}
    reporting: set[str] = set()
    sessions_at = {(s.charger_id, s.evse_number): s for s in snapshot.sessions}
    ancestors = _ancestor_table(snapshot)
    transformers = _transformers(snapshot)  # node id -> ratio; empty on most sites

    for charger in snapshot.chargers:
        if charger.node_id not in rotations:
            continue
        base = rotations[charger.node_id]
        for evse in charger.evses:
            connector = charger.connector(evse.number, None)
            if connector is None:
                continue
            key = EvseKey(charger.id, evse.number)
            session = sessions_at.get((charger.id, evse.number))
            rotation = _compose(base, connector.rotation)
            if session is not None:
                connector = charger.connector(evse.number, session.connector_id) or connector
                rotation = _compose(base, connector.rotation)
                measured = inputs.learner.measured(session.id)
                seen_at = inputs.learner.measured_at(session.id)
                fresh = (
                    seen_at is not None and inputs.now_mono - seen_at <= SESSION_READING_MAX_AGE_S
                )
                # A total spread evenly over terminals cannot be subtracted per phase.
                if (
                    fresh
                    and any(v is not None for v in measured)
                    and inputs.learner.split_known(session.id)
                ):
                    grid = to_grid(rotation, tuple(v or 0.0 for v in measured))
                    # Above a transformer its primary currents flow, which per-phase
                    # readings below it do not bound from below: subtract nothing there.
                    chain = ancestors[charger.node_id]
                    for node_id in (
                        _below_transformer(chain, transformers) if transformers else chain
                    ):
                        ours[node_id] = _add(ours[node_id], grid)
                        reporting.add(node_id)
            violating = inputs.violating.get(key) if inputs.violating else None
            if (
                charger.id in inputs.offline
                or charger.id in inputs.flagged
                or violating
                or key in inputs.ramping
            ):
                phases_count = rotation_of(connector.rotation).phase_count
                limit = _held_limit(inputs, key, charger, connector, phases_count)
                learnt = inputs.learner.used_terminals(session.id) if session else None
                chosen = inputs.phase_to_use.get(session.id) if session else None
                if chosen is not None:
                    learnt = put_on(learnt, chosen)
                terminals = _terminals(learnt, phases_count, limit.phases)
                if connector.line_to_line:
                    # Between two lines its current flows on both, one phase or not.
                    terminals = (1, 2)
                load = connector_load(rotation, terminals, limit.amps)
                told = None
                if violating:
                    # It draws what it draws, whatever it was told: count the more.
                    load = _max3(load, to_grid(rotation, tuple(v or 0.0 for v in violating)))
                    told = inputs.held.get(key)
                if charger.id in inputs.offline:
                    reason = "charger_offline"
                elif charger.id in inputs.flagged:
                    reason = "charger_flagged"
                elif key in inputs.reacting:
                    reason = ABOVE_LIMIT
                elif not violating:
                    reason = SLOWING_DOWN
                else:
                    reason = NOT_FOLLOWING_LIMIT
                held.append(HeldEvse(key, limit, reason, session, load, charger, told))
                for node_id, seen in _up_the_tree(
                    ancestors[charger.node_id], load, transformers, rotations
                ):
                    reserved[node_id] = _add(reserved[node_id], seen)
                continue
            if session is None or not evse.enabled:
                tx = session.transaction_id if session is not None else None
                idle.append(IdleEvse(charger, evse.number, tx))
                continue
            context, demand = _planned(
                session, charger, connector, rotation, key, inputs, evse.external_limit_a
            )
            contexts[session.id] = context
            demands.append(demand)

    unmanaged, node_measured = _unmanaged(snapshot, inputs, rotations, ours, reporting)
    nodes = tuple(
        Node(
            id=n.id,
            parent_id=n.parent_id,
            limit=n.override.effective(n.max_current, inputs.now_wall).as_tuple(),
            rotation=rotation_of(n.rotation),
            unmanaged=unmanaged[n.id],
            reserved=reserved[n.id],
            phasor_lines=n.phasor_lines,
            transformer=None if n.transformer is None else Transformer(*n.transformer),
        )
        for n in snapshot.nodes
    )
    problem = Problem(
        nodes=nodes,
        demands=tuple(demands),
        now=inputs.now_wall.timestamp(),
        three_to_one_phase_switch_current=snapshot.three_to_one_phase_switch_current,
        max_phase_switches=MAX_PHASE_SWITCHES,
        previous=inputs.previous,
        voltage=snapshot.voltage,
    )
    open_sessions = {s.id for s in snapshot.sessions}
    problem, phase_to_use = _choose_phases(problem, contexts, open_sessions, inputs)
    return Built(
        problem, contexts, tuple(held), tuple(idle), rotations, node_measured, phase_to_use
    )


def _choose_phases(
    problem: Problem,
    contexts: Mapping[str, SessionContext],
    open_sessions: set[str],
    inputs: Inputs,
) -> tuple[Problem, dict[str, int]]:
    """Put each new 1-phase session of a phase-switching station on the phase with the
    most headroom (``balancing.phase_choice``), before the car draws: once it has drawn,
    it stays where it is (a car is never moved while it charges)."""
    known = {sid: t for sid, t in inputs.phase_to_use.items() if sid in open_sessions}
    candidates = [
        sid
        for sid, ctx in contexts.items()
        if sid not in known
        and may_choose_phase(ctx.charger, ctx.connector)
        and inputs.learner.used_terminals(sid) is None
    ]
    new = choose_terminals(problem, candidates)
    if not new:
        return problem, known
    demands = tuple(
        replace(d, used_terminals=put_on(None, new[d.session_id])) if d.session_id in new else d
        for d in problem.demands
    )
    return replace(problem, demands=demands), {**known, **new}


def _held_limit(
    inputs: Inputs,
    key: EvseKey,
    charger: ChargerSpec,
    connector: ConnectorSpec,
    phases_count: int,
) -> Limit:
    """What an EVSE we cannot steer may draw. Known: what it acknowledged (or may have).
    Unknown: an offline charger is counted at its failsafe (DESIGN §3); one that refuses
    our profiles at whatever its hardware allows, since nothing we sent binds it."""
    known = inputs.held.get(key)
    if known is not None:
        return known
    if charger.id in inputs.offline and key not in inputs.uncertain:
        return inputs.failsafe.get(key) or Limit(0.0, phases_count)
    hardware = [connector.max_amperage]
    if charger.max_charge_current is not None and charger.max_charge_current >= 0:
        hardware.append(charger.max_charge_current)
    return Limit(min(hardware), phases_count)


def _planned(
    session: SessionSpec,
    charger: ChargerSpec,
    connector: ConnectorSpec,
    rotation: PhaseRotation,
    key: EvseKey,
    inputs: Inputs,
    external_limit: float | None = None,
) -> tuple[SessionContext, Demand]:
    """A session's context and demand; the last round's when built from equal values.

    A PATCH of ``available_current`` changes no session, so a round after it would
    otherwise rebuild a thousand equal demands. Everything they are built from is in
    ``deps``: frozen values (compared by identity first, then by value) and what the
    learner and the phase-switch count say about the session now.
    """
    learner = inputs.learner
    deps = (
        session,
        charger,
        connector,
        rotation,
        learner.cap(session.id),
        learner.used_terminals(session.id),
        inputs.phase_switches.get(session.id, 0),
        inputs.phase_to_use.get(session.id),
        external_limit,
    )
    memo = inputs.memo
    if memo is not None:
        known = memo.get(session.id)
        if known is not None and known[0] == deps:
            # Kept with this round's objects: after a full re-read (equal values, new
            # objects) the next comparison is again by identity, element by element.
            memo[session.id] = (deps, known[1], known[2])
            return known[1], known[2]
    context = SessionContext(session, charger, connector, rotation, key)
    demand = _demand(session, charger, connector, inputs, external_limit)
    if memo is not None:
        memo[session.id] = (deps, context, demand)
    return context, demand


def _demand(
    session: SessionSpec,
    charger: ChargerSpec,
    connector: ConnectorSpec,
    inputs: Inputs,
    external_limit: float | None = None,
) -> Demand:
    power_type = PowerType(connector.power_type)
    maxima = [connector.max_amperage]
    if power_type.is_dc and connector.max_electric_power:
        maxima = [dc_input_current(connector.max_electric_power)]
    # A limit set on the station from outside (2.0.1 NotifyChargingLimit) binds the car
    # whatever we send: current planned above it would be lost to everyone else.
    maxima += [
        x
        for x in (charger.max_charge_current, session.ev_max_current, external_limit)
        if x is not None and x >= 0
    ]
    cap = inputs.learner.cap(session.id)
    if cap is not None:
        maxima.append(max(cap, charger.min_charge_current))
    used = inputs.learner.used_terminals(session.id)
    chosen = inputs.phase_to_use.get(session.id)
    if chosen is not None:
        used = put_on(used, chosen)
    elif used is None and charger.max_charge_phases == 1:
        used = (1,)
    rotation = rotation_of(connector.rotation)
    maximum = min(maxima)
    return Demand(
        session_id=session.id,
        node_id=charger.node_id,
        max_current=maximum,
        rotation=rotation,
        power_type=power_type,
        used_terminals=used,
        min_current=charger.min_charge_current,
        weight=charger.priority * (session.priority if session.priority is not None else 1.0),
        plugged_in_at=session.started_at.timestamp(),
        can_switch_phases=rotation.phase_count == 3
        and charger.max_charge_phases == 3
        and not power_type.is_dc,
        phase_switches=inputs.phase_switches.get(session.id, 0),
        departure_at=session.departure_time.timestamp() if session.departure_time else None,
        energy_wanted_wh=energy_still_wanted(session),
        allowed_currents=allowed_currents(charger, maximum),
        line_to_line=connector.line_to_line,
    )


def allowed_currents(charger: ChargerSpec, maximum: float) -> tuple[float, ...] | None:
    """What the charger accepts, for the allocator to round down into: its own list, or
    every multiple of its step from 0 up to ``maximum``; None: any current."""
    if charger.allowed_currents is not None:
        return charger.allowed_currents
    step = charger.current_step
    if step is None or step <= 0.0:
        return None
    count = int(maximum / step + 1e-9)
    return tuple(round(k * step, 6) for k in range(count + 1))


def primary_side(load: PhaseAmps, to_grid_rot: PhaseRotation, ratio: float) -> PhaseAmps:
    """What per-line magnitudes on a delta-wye transformer's secondary put at most on
    its primary lines: line k carries (I_k - I_{k-1}) / ratio (docs/load-manager.md)."""
    targets = to_grid_rot.targets
    out = [0.0, 0.0, 0.0]
    if len(targets) == 3 and ratio > 0.0:
        for k in range(3):
            here, before = targets[k].index, targets[k - 1].index
            out[here] += (load[here] + load[before]) / ratio
    return (out[0], out[1], out[2])


def _transformers(snapshot: SiteSnapshot) -> dict[str, float]:
    return {n.id: n.transformer[0] for n in snapshot.nodes if n.transformer is not None}


def _below_transformer(chain: list[str], transformers: Mapping[str, float]) -> list[str]:
    """``chain`` (a node and the nodes above it) up to its first transformer."""
    out = []
    for node_id in chain:
        out.append(node_id)
        if node_id in transformers:
            break
    return out


def _up_the_tree(
    chain: list[str],
    load: PhaseAmps,
    transformers: Mapping[str, float],
    rotations: Mapping[str, PhaseRotation],
) -> list[tuple[str, PhaseAmps]]:
    """A held load as each node of ``chain`` sees it: at its primary share above a
    transformer."""
    out = []
    for node_id in chain:
        out.append((node_id, load))
        if node_id in transformers:
            load = primary_side(load, rotations[node_id], transformers[node_id])
    return out


def unmanaged_by_node(
    snapshot: SiteSnapshot, inputs: Inputs
) -> tuple[dict[str, PhaseAmps], dict[str, PhaseRotation]]:
    """Unmanaged load per node with no session readings (for the failsafe plan)."""
    rotations = node_rotations(snapshot)
    ours = {n.id: ZERO for n in snapshot.nodes}
    unmanaged, _ = _unmanaged(snapshot, inputs, rotations, ours, set())
    return unmanaged, rotations


def _max3(a: PhaseAmps, b: PhaseAmps) -> PhaseAmps:
    return (max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]))


def _unmanaged(
    snapshot: SiteSnapshot,
    inputs: Inputs,
    rotations: Mapping[str, PhaseRotation],
    ours: Mapping[str, PhaseAmps],
    reporting: set[str],
) -> tuple[dict[str, PhaseAmps], dict[str, Optional3]]:
    """Per node, bottom-up: unmanaged load (incl. its sub-circuits') and what is measured."""
    max_age = {meter.id: meter.max_age_s for meter in snapshot.meters}
    children: dict[str, list[str]] = {n.id: [] for n in snapshot.nodes}
    for n in snapshot.nodes:
        if n.parent_id is not None and n.parent_id in children:
            children[n.parent_id].append(n.id)
    unmanaged: dict[str, PhaseAmps] = {}
    measured: dict[str, Optional3] = {}
    by_id = {n.id: n for n in snapshot.nodes}

    def visit(node_id: str) -> PhaseAmps:
        below = ZERO
        for child in children[node_id]:
            load = visit(child)
            transformer = by_id[child].transformer
            if transformer is not None:
                load = primary_side(load, rotations[child], transformer[0])
            below = _add(below, load)
        node = by_id[node_id]
        rotation = rotations[node_id]
        reading = None
        if node.meter_id is not None:
            age = max_age.get(node.meter_id, 60.0)
            reading = inputs.meters.fresh(node.meter_id, inputs.now_mono, age)
        if node.meter_id is None:
            value = below
            measured[node_id] = ours[node_id] if node_id in reporting else (None, None, None)
        elif reading is None or any(v is None for v in reading[: rotation.phase_count]):
            # Stale, or a phase missing from the reading: trust no number, reserve.
            reserve = to_grid(rotation, (node.offline_reserved_current,) * 3)
            value = _max3(reserve, below)
            measured[node_id] = (None, None, None)
        else:
            grid = to_grid(rotation, tuple(v or 0.0 for v in reading))
            own = ours[node_id]
            estimate = (
                max(0.0, grid[0] - own[0]),
                max(0.0, grid[1] - own[1]),
                max(0.0, grid[2] - own[2]),
            )
            if inputs.unmanaged_hold is not None:
                estimate = inputs.unmanaged_hold.update(node_id, inputs.now_mono, estimate)
            value = _max3(estimate, below)
            reached = {p.index for p in rotation.targets}
            measured[node_id] = (
                grid[0] if 0 in reached else None,
                grid[1] if 1 in reached else None,
                grid[2] if 2 in reached else None,
            )
        unmanaged[node_id] = value
        return value

    visit(snapshot.nodes[0].id)
    for node in snapshot.nodes:  # a node cut off from the site still gets a value
        unmanaged.setdefault(node.id, ZERO)
        measured.setdefault(node.id, (None, None, None))
    return unmanaged, measured
