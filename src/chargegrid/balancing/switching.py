"""Which phases a session may load, and in which order to try them (3→1 switching).

A session on a multi-phase AC connector that allows switching may be offered 1 phase
(OCPP ``numberPhases = 1``; the car then draws on its first terminal):

- when its minimum does not fit on all its phases but does on one, or
- when the site's lowest per-phase availability is under
  ``three_to_one_phase_switch_current``.

Going back up needs ``switch_hysteresis_a`` more than going down did, so a session near
the edge does not flap, and a session that has used up its ``max_phase_switches`` keeps
the phase count it has.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargegrid.balancing.model import Demand, Problem, SessionPlan
from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.phases import Phase, PhaseRotation


@dataclass(frozen=True, slots=True)
class Option:
    phases: tuple[Phase, ...]
    # Extra room beyond the minimum that must be free to pick this option (hysteresis).
    margin: float
    switched: bool
    # Per grid phase, 1.0 where it loads and 0.0 elsewhere (turns a current into the
    # load on each phase by one multiplication).
    per_phase: tuple[float, float, float]


def per_phase(phases: tuple[Phase, ...]) -> tuple[float, float, float]:
    return (
        1.0 if Phase.L1 in phases else 0.0,
        1.0 if Phase.L2 in phases else 0.0,
        1.0 if Phase.L3 in phases else 0.0,
    )


@dataclass(frozen=True, slots=True)
class Wiring:
    """The grid phases a session loads normally (``full``) and, if it may switch, on
    one phase (``one``)."""

    full: tuple[Phase, ...]
    one: tuple[Phase, ...] | None


@dataclass(frozen=True, slots=True)
class Wired:
    """A connector layout at one node, worked out once per topology: its wiring, its
    no-hysteresis options and the resources each loads (its own node's first, then
    each ancestor's)."""

    wiring: Wiring
    full: Option
    full_resources: list[int]
    one: Option | None
    # Empty when the session cannot switch.
    one_resources: list[int]


def wiring(node_to_grid: PhaseRotation, demand: Demand) -> Wiring:
    """Compose the connector's rotation onto its node's and keep the terminals in use."""
    try:
        rotation = node_to_grid.then(demand.rotation)
    except InvalidValue as exc:
        raise InvalidValue.of(f"demands[{demand.session_id}].rotation", str(exc)) from exc
    if demand.power_type.is_dc:
        # A DC charger's rectifier draws a balanced input on every conductor it has.
        return Wiring(rotation.targets, None)
    if demand.line_to_line:
        # Between two lines: both always carry its current, whatever a meter saw.
        if rotation.phase_count < 2:
            raise InvalidValue.of(
                f"demands[{demand.session_id}].line_to_line", "needs a connector on two lines"
            )
        return Wiring(rotation.targets[:2], None)
    terminals = list(range(1, min(demand.power_type.phase_count, rotation.phase_count) + 1))
    if demand.used_terminals:
        seen = [t for t in terminals if t in demand.used_terminals]
        # Readings naming terminals the connector lacks are ignored (stay safe).
        if seen:
            terminals = seen
    full = tuple(rotation.target(t) for t in terminals)
    one = (full[0],) if demand.can_switch_phases and len(full) > 1 else None
    return Wiring(full, one)


def options(
    wires: Wiring,
    demand: Demand,
    problem: Problem,
    previous: SessionPlan | None,
    site_available: float,
) -> list[Option]:
    """The phase choices to try, best first; admission takes the first that fits."""
    full = option(wires.full, switched=False)
    if wires.one is None:
        return [full]
    one = option(wires.one, switched=True)
    was_one = previous is not None and len(previous.grid_phases) == 1
    capped = (
        problem.max_phase_switches is not None
        and demand.phase_switches >= problem.max_phase_switches
    )
    if capped:
        # Out of switches: keep what is in force (a new session keeps its full phases).
        return [one] if was_one else [full]
    threshold = problem.three_to_one_phase_switch_current
    if threshold is not None:
        back_up = threshold + (problem.switch_hysteresis_a if was_one else 0.0)
        if site_available < back_up:
            return [one]
    if was_one:
        return [Option(wires.full, problem.switch_hysteresis_a, False, per_phase(wires.full)), one]
    return [full, one]


_OPTIONS: dict[tuple[tuple[Phase, ...], bool], Option] = {}


def option(phases: tuple[Phase, ...], *, switched: bool) -> Option:
    """Options are immutable and few (a handful of phase sets): build each once."""
    key = (phases, switched)
    option = _OPTIONS.get(key)
    if option is None:
        option = _OPTIONS[key] = Option(phases, 0.0, switched, per_phase(phases))
    return option
