"""The wiring's rows during one allocation (``balancing.wiring``), in whole µA.

``build_tree`` makes one book per call for a tree with phasor lines or a transformer;
the allocator asks it at a few points and nowhere else:

- admission: does a minimum fit the rows too (``fits``), and take it (``take``);
- water-filling: the rows become extra resources, each session loading them by its own
  coefficient (``widen``), and a fill's increments are taken (``take``);
- once the shares are rounded: ``repair``, the exact check of every row, where the last
  admitted give way should any step the book did not see (rounding into allowed
  currents, a switch back to three phases) have left one over; then ``report`` puts
  what each wired line really carries into the node loads;
- ``check``: the control loop's and the tests' guard, on the true phasor sums.

A take rounds up and a give-back down, so the book never shows more room than there is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from operator import ge

from chargegrid.balancing.model import Demand
from chargegrid.balancing.wiring import Network, Uses, line_currents
from chargegrid.domain.phases import Phase

# A session's layout: its node index, the grid phases it loads, its demand.
Layout = tuple[int, tuple[Phase, ...], Demand]

_MICRO = 1_000_000
# Float sums of a few hundred terms, against limits in amperes.
CHECK_TOLERANCE_A = 1e-9


class RowBook:
    __slots__ = ("base", "capacity", "costs", "free", "network", "spare", "widened")

    def __init__(
        self, network: Network, base: int, free: list[float], capacity: list[float]
    ) -> None:
        self.network = network
        # Row r is resource ``base + r`` (after the per-phase ones).
        self.base = base
        self.free = free  # per limit: limit - held, floored at 0
        self.capacity = capacity  # per row, in A
        self.spare = [_floor_micro(c) for c in capacity]  # per row, whole µA
        # Sessions share a few layouts and minimums: what an amount costs each row of a
        # layout, and a layout's rows as resources, worked out once per call.
        self.costs: dict[tuple[int, tuple[Phase, ...], bool, int], tuple[list[int], list[int]]]
        self.costs = {}
        self.widened: dict[tuple[int, tuple[Phase, ...], bool], tuple[list[int], list[float]]]
        self.widened = {}

    def uses(self, node: int, phases: tuple[Phase, ...], demand: Demand) -> Uses:
        return self.network.uses(node, phases, demand.line_to_line)

    def _costs(
        self, node: int, phases: tuple[Phase, ...], demand: Demand, amount: int
    ) -> tuple[list[int], list[int]]:
        key = (node, phases, demand.line_to_line, amount)
        found = self.costs.get(key)
        if found is None:
            rows, coefficients = self.network.uses(node, phases, demand.line_to_line)
            found = self.costs[key] = (rows, [math.ceil(amount * c) for c in coefficients])
        return found

    def fits(self, node: int, phases: tuple[Phase, ...], demand: Demand, amount: int) -> bool:
        rows, costs = self._costs(node, phases, demand, amount)
        return all(map(ge, map(self.spare.__getitem__, rows), costs))

    def take(self, node: int, phases: tuple[Phase, ...], demand: Demand, amount: int) -> None:
        rows, costs = self._costs(node, phases, demand, amount)
        spare = self.spare
        for r, k in zip(rows, costs, strict=True):
            spare[r] -= k

    def widen(
        self,
        spare: list[float],
        members: list[list[int]],
        layouts: Sequence[Layout],
        carriers: Callable[[int], Iterable[int]],
    ) -> tuple[list[float], list[list[int]], list[list[float]], Callable[[int], Iterable[int]]]:
        """A fill's inputs with the rows added: spare (rows after the per-phase
        resources), each session's resources and their coefficients, and who loads a
        resource (the rows' carriers from here, the others' from ``carriers``)."""
        wide: list[list[int]] = []
        scales: list[list[float]] = []
        on_row: dict[int, list[int]] = {}
        for j, (own, (node, phases, demand)) in enumerate(zip(members, layouts, strict=True)):
            key = (node, phases, demand.line_to_line)
            known = self.widened.get(key)
            if known is None:
                rows, coefficients = self.uses(node, phases, demand)
                known = self.widened[key] = ([self.base + r for r in rows], coefficients)
            resources, coefficients = known
            wide.append([*own, *resources])
            scales.append([*(1.0 for _ in own), *coefficients])
            for r in resources:
                on_row.setdefault(r, []).append(j)
        base = self.base

        def who(resource: int) -> Iterable[int]:
            return on_row.get(resource, ()) if resource >= base else carriers(resource)

        return [*spare, *map(float, self.spare)], wide, scales, who

    def repair(self, layouts: Sequence[Layout], values: list[float]) -> None:
        """Exact float check of every row; where one is over, sessions give way from the
        last admitted up (down to their minimum, into their allowed currents, then to 0)."""
        capacity = self.capacity
        uses = [self.uses(*layout) for layout in layouts]
        while True:
            load = [0.0] * len(capacity)
            for (rows, coefficients), v in zip(uses, values, strict=True):
                if v > 0.0:
                    for r, c in zip(rows, coefficients, strict=True):
                        load[r] += c * v
            over = next(((r, x - capacity[r]) for r, x in enumerate(load) if x > capacity[r]), None)
            if over is None:
                return
            row, excess = over
            for i in reversed(range(len(values))):
                rows, coefficients = uses[i]
                if values[i] <= 0.0 or row not in rows:
                    continue
                c = coefficients[rows.index(row)]
                before = values[i]
                values[i] = _lowered(layouts[i][2], before - excess / c - 1.0 / _MICRO)
                excess -= (before - values[i]) * c
                if excess < 0.0:
                    break

    def line_loads(self, layouts: Sequence[Layout], values: Sequence[float]) -> list[float]:
        """Per limit of the network, what the sessions put on it: the magnitude of the
        phasor sum (phasor limits) or the sum of magnitudes."""
        return self.network.loads(
            [
                (node, line_currents(phases, demand.line_to_line), v)
                for (node, phases, demand), v in zip(layouts, values, strict=True)
            ]
        )

    def report(
        self, loads: list[float], layouts: Sequence[Layout], values: Sequence[float]
    ) -> None:
        """A wired line's allocated current in the node loads is what its limit counts
        (the per-phase sum of magnitudes over-states a phasor line and misses the
        transformer below a line); a primary line has no per-phase resource."""
        for limit, load in zip(self.network.limits, self.line_loads(layouts, values), strict=True):
            if not limit.primary:
                loads[limit.node * 3 + limit.phase.index] = load

    def check(
        self, ids: Sequence[str], layouts: Sequence[Layout], values: Sequence[float]
    ) -> list[tuple[str, str]]:
        """Rule 1 on the true phasor sums: (where, what) for every limit over (``ids``:
        the node ids by index)."""
        out = []
        for limit, free, load in zip(
            self.network.limits, self.free, self.line_loads(layouts, values), strict=True
        ):
            if load > free + CHECK_TOLERANCE_A and load > 0.0:
                kind = "primary " if limit.primary else ""
                out.append(
                    (
                        f"{ids[limit.node]}/{kind}{limit.phase.name}",
                        f"{load - free} A over its limit",
                    )
                )
        return out

    def describe(self, resource: int) -> tuple[int, Phase, str]:
        """A row resource's node index, line and kind ("" or "primary_")."""
        return self.network.describe(resource - self.base)


def _floor_micro(amps: float) -> int:
    value = math.floor(amps * _MICRO)
    return value - 1 if value / _MICRO > amps else value


def _lowered(demand: Demand, amps: float) -> float:
    """The highest current at most ``amps`` the session may have: within its allowed
    currents where it has them, at least its minimum, else 0."""
    steps = demand.allowed_currents
    if steps is not None:
        below = [s for s in steps if demand.min_current <= s <= amps]
        return float(max(below)) if below else 0.0
    if amps < demand.min_current:
        return 0.0
    return math.floor(amps * _MICRO) / _MICRO
