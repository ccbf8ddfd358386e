"""Networks as they are wired: line-to-line loads and delta-wye transformers.

A fuse limits the RMS current of each line, the magnitude of the **phasor** sum of what
flows on it. Summing magnitudes per phase (the tree's resources) is exact while every
load is line-to-neutral (all of a line's currents then share its voltage's angle) and
safe otherwise, but a 208 V charger between lines a and b puts ``I∠30°`` on a and
``I∠-150°`` on b, and a delta-wye transformer's primary line carries
``(I_a - I_c) / ratio``: magnitudes then over-count up to 2/√3 on the lines, and a
per-phase limit cannot say what the primary sees at all.

Such a limit is ``|Σ c_s I_s| <= free`` (``c_s`` the complex current session ``s`` puts
on it per ampere, ``I_s >= 0``): a second-order cone. The allocator fills *packing* rows
(non-negative coefficients), whose feasible sets are closed downwards, so that rounding
down, giving back and admitting in rank order stay safe. Each phasor limit becomes the
facets of a regular polygon inscribed in its circle, keeping only each session's
positive part::

    Σ max(0, Re(c_s e^{-jφ_m})) I_s <= free · cos(π / SIDES)    for φ_m = 2πm / SIDES

The positive part of facet ``m`` is the largest projection of any *subset* of the
sessions, so the rows hold exactly when every subset's phasor sum lies in the polygon:
the polygonal version of the largest downward-closed set inside the cone. A plan that
keeps them never exceeds the true phasor limit, and loses at most ``1 - cos(π / SIDES)``
(0.2 % at 48 sides) against that set. Facets no possible session reaches, or implied by
another facet, are dropped (per topology: a line keeps the few facets facing the
directions its loads can take).

Where nothing is wired like this (no node with ``phasor_lines`` or ``transformer``),
none of this runs.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence
from dataclasses import dataclass

from chargegrid.balancing.model import Node
from chargegrid.domain.errors import ErrorCollector
from chargegrid.domain.phases import ALL_PHASES, Phase, PhaseRotation

SIDES = 48
SQRT3 = math.sqrt(3.0)
# A phasor node's per-phase magnitude sum never exceeds 2/√3 times its phasor sum (its
# loads lie within ±30° of the line's angle), so its per-phase resource may be relaxed
# by this much: the polygon rows bind first.
RELAX = 2.0 / SQRT3

# Line-to-neutral voltage angles of the grid phases (positive sequence, L1 at 0°).
ANGLE: dict[Phase, complex] = {
    Phase.L1: 1.0 + 0.0j,
    Phase.L2: cmath.exp(-2j * math.pi / 3),
    Phase.L3: cmath.exp(2j * math.pi / 3),
}

Lines = tuple[complex, complex, complex]


def line_currents(phases: tuple[Phase, ...], line_to_line: bool) -> Lines:
    """The current each grid line carries per ampere of a session on ``phases``
    (unity power factor). Line-to-neutral: its own line's angle on each phase it loads.
    Line-to-line between p and q: ``u = (V_p - V_q) / |V_p - V_q|`` out on p, back on q."""
    values = [0j, 0j, 0j]
    if line_to_line and len(phases) == 2:
        p, q = phases
        u = (ANGLE[p] - ANGLE[q]) / SQRT3
        values[p.index] += u
        values[q.index] -= u
    else:
        for p in phases:
            values[p.index] += ANGLE[p]
    return (values[0], values[1], values[2])


def primary_currents(secondary: Lines, rotation: PhaseRotation, ratio: float) -> Lines:
    """A delta-wye transformer's primary line currents for ``secondary`` line currents
    (indexed by grid phase): primary line k (the grid phase its conductor k reaches)
    carries ``(I_k - I_{k-1}) / ratio``, secondary lines numbered by the same conductors."""
    targets = rotation.targets
    values = [0j, 0j, 0j]
    for k in range(3):
        here, before = targets[k].index, targets[k - 1].index
        values[here] += (secondary[here] - secondary[before]) / ratio
    return (values[0], values[1], values[2])


# Every way a session can load lines: 1, 2 or 3 phases line-to-neutral, or a pair of
# lines line-to-line (the facets kept must face every direction one of these can take).
_LAYOUTS: tuple[tuple[tuple[Phase, ...], bool], ...] = (
    *(((p,), False) for p in ALL_PHASES),
    *(
        ((p, q), ll)
        for i, p in enumerate(ALL_PHASES)
        for q in ALL_PHASES[i + 1 :]
        for ll in (False, True)
    ),
    (ALL_PHASES, False),
)


@dataclass(frozen=True, slots=True)
class Limit:
    """One line limit beyond the per-phase resources: a phasor node's line, a line above
    a transformer (which carries the transformer's primary currents), or a transformer's
    primary line. ``node`` is a node index (id order), ``phase`` the line's grid phase;
    ``facets`` are the polygon's kept directions (unit phasors) for a phasor limit, empty
    for a sum of magnitudes; ``first`` is its first row."""

    node: int
    phase: Phase
    primary: bool
    facets: tuple[complex, ...]
    first: int

    @property
    def rows(self) -> int:
        return len(self.facets) or 1


@dataclass(frozen=True, slots=True)
class _Transformer:
    ratio: float
    primary_limit: float


# Per session layout (node, grid phases, line to line): its rows and coefficients.
Uses = tuple[list[int], list[float]]


@dataclass(frozen=True, slots=True)
class Network:
    """A topology's wiring, compiled once per structure."""

    limits: tuple[Limit, ...]
    row_count: int
    # Per node: the limits its sessions are subject to (indices into ``limits``).
    limits_of: tuple[tuple[int, ...], ...]
    # Per node: the per-phase resource's relaxation (``RELAX`` for phasor nodes, else 1).
    relax: tuple[float, ...]
    transformers: dict[int, _Transformer]
    to_grid: tuple[PhaseRotation, ...]
    # Per node: the transformer at or above it, -1 for none.
    below: tuple[int, ...]
    # Per transformer: the nodes above it.
    above: dict[int, frozenset[int]]
    uses_of: dict[tuple[int, tuple[Phase, ...], bool], Uses]
    # Per layout: (limit index, current per ampere) for every limit it reaches.
    reach_of: dict[tuple[int, Lines], list[tuple[int, complex]]]

    def contribution(self, limit: Limit, node: int, lines: Lines) -> complex:
        """What a session at ``node`` with per-ampere ``lines`` puts on ``limit``."""
        t = limit.node if limit.primary else self.below[node]
        if t >= 0 and (limit.primary or limit.node in self.above[t]):
            lines = primary_currents(lines, self.to_grid[t], self.transformers[t].ratio)
        return lines[limit.phase.index]

    def uses(self, node: int, phases: tuple[Phase, ...], line_to_line: bool) -> Uses:
        """The rows a session loads and how much each per ampere (memoised)."""
        key = (node, phases, line_to_line)
        found = self.uses_of.get(key)
        if found is None:
            lines = line_currents(phases, line_to_line)
            rows: list[int] = []
            coefficients: list[float] = []
            for k in self.limits_of[node]:
                limit = self.limits[k]
                c = self.contribution(limit, node, lines)
                if not limit.facets:
                    values = [abs(c)]
                else:
                    values = [max(0.0, (c * d.conjugate()).real) for d in limit.facets]
                for offset, v in enumerate(values):
                    if v > _ZERO:
                        rows.append(limit.first + offset)
                        coefficients.append(v)
            found = self.uses_of[key] = (rows, coefficients)
        return found

    def free(self, nodes: Sequence[Node]) -> list[float]:
        """Per limit: what may still flow next to the node's unmanaged and reserved load
        (counted at their magnitude, in the worst direction), never below 0."""
        out = []
        for limit in self.limits:
            node = nodes[limit.node]
            held = [u + r for u, r in zip(node.unmanaged, node.reserved, strict=True)]
            if limit.primary:
                t = self.transformers[limit.node]
                targets = self.to_grid[limit.node].targets
                k = targets.index(limit.phase)
                pair = held[targets[k].index] + held[targets[k - 1].index]
                room = t.primary_limit - pair / t.ratio
            else:
                i = limit.phase.index
                room = node.limit[i] - held[i]
            out.append(max(0.0, room))
        return out

    def capacities(self, free: Sequence[float]) -> list[float]:
        """Per row: a facet's room is its polygon's inner radius."""
        out: list[float] = []
        for limit, room in zip(self.limits, free, strict=True):
            out += [room * SHRINK] * len(limit.facets) if limit.facets else [room]
        return out

    def loads(self, sessions: Sequence[tuple[int, Lines, float]]) -> list[float]:
        """Per limit, the magnitude of the sessions' current on it: the exact check
        (phasor limits) or the sum of magnitudes it stands for."""
        sums = [0j] * len(self.limits)
        magnitudes = [0.0] * len(self.limits)
        for node, lines, amps in sessions:
            if amps <= 0.0:
                continue
            key = (node, lines)
            reach = self.reach_of.get(key)
            if reach is None:
                reach = self.reach_of[key] = [
                    (k, self.contribution(self.limits[k], node, lines))
                    for k in self.limits_of[node]
                ]
            for k, c in reach:
                sums[k] += c * amps
                magnitudes[k] += abs(c) * amps
        return [
            abs(z) if limit.facets else m
            for limit, z, m in zip(self.limits, sums, magnitudes, strict=True)
        ]

    def describe(self, row: int) -> tuple[int, Phase, str]:
        """The node, line and kind ("" or "primary_") of a row."""
        for limit in self.limits:
            if limit.first <= row < limit.first + limit.rows:
                return limit.node, limit.phase, "primary_" if limit.primary else ""
        raise IndexError(row)


SHRINK = math.cos(math.pi / SIDES)
_ZERO = 1e-12


def wired(nodes: Sequence[Node]) -> bool:
    return any(n.phasor_lines or n.transformer is not None for n in nodes)


def compile_network(
    nodes: Sequence[Node],
    full_paths: Sequence[tuple[int, ...]],
    to_grid: Sequence[PhaseRotation],
) -> Network:
    """The limits of a tree (nodes in id order, each with its path up to the root).
    Raises ``InvalidValue`` for a transformer it cannot model."""
    errors = ErrorCollector()
    transformers: dict[int, _Transformer] = {}
    for i, node in enumerate(nodes):
        t = node.transformer
        if t is None:
            continue
        where = f"nodes[{node.id}].transformer"
        if not _positive(t.ratio):
            errors.add(f"{where}.ratio", "must be a finite number above 0")
        if not (_positive(t.primary_limit) or t.primary_limit == 0):
            errors.add(f"{where}.primary_limit", "must be a finite number, 0 or more")
        if to_grid[i].phase_count != 3:
            errors.add(where, "a delta-wye transformer needs all three phases")
        if any(j != i and nodes[j].transformer is not None for j in full_paths[i]):
            errors.add(where, "a transformer below another transformer is not supported")
        transformers[i] = _Transformer(float(t.ratio), float(t.primary_limit))
    errors.raise_if_any()
    below = tuple(next((j for j in path if j in transformers), -1) for path in full_paths)
    above = {t: frozenset(full_paths[t][1:]) for t in transformers}
    lifted = set().union(*above.values()) if above else set()
    phasor = [bool(n.phasor_lines) or i in transformers for i, n in enumerate(nodes)]
    limits: list[Limit] = []
    first = 0
    for i in range(len(nodes)):
        lines = [(p, False) for p in to_grid[i].targets if phasor[i] or i in lifted]
        lines += [(p, True) for p in to_grid[i].targets if i in transformers]
        for phase, primary in lines:
            facets: tuple[complex, ...] = ()
            if primary or phasor[i]:
                reach = _reach(i, phase, primary, transformers, above, to_grid)
                facets = _facets(reach)
            limits.append(Limit(i, phase, primary, facets, first))
            first += len(facets) or 1
    on_path = [set(path) for path in full_paths]
    limits_of = tuple(
        tuple(k for k, limit in enumerate(limits) if limit.node in on_path[i])
        for i in range(len(nodes))
    )
    return Network(
        limits=tuple(limits),
        row_count=first,
        limits_of=limits_of,
        relax=tuple(RELAX if p else 1.0 for p in phasor),
        transformers=transformers,
        to_grid=tuple(to_grid),
        below=below,
        above=above,
        uses_of={},
        reach_of={},
    )


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _reach(
    node: int,
    phase: Phase,
    primary: bool,
    transformers: dict[int, _Transformer],
    above: dict[int, frozenset[int]],
    to_grid: Sequence[PhaseRotation],
) -> list[complex]:
    """Every current (per ampere) a session can put on this line."""
    layouts = [line_currents(ph, ll) for ph, ll in _LAYOUTS]
    through = [node] if primary else [t for t in transformers if node in above[t]]
    sources = [] if primary else list(layouts)
    for t in through:
        rotation, ratio = to_grid[t], transformers[t].ratio
        sources += [primary_currents(lines, rotation, ratio) for lines in layouts]
    return [c for c in (s[phase.index] for s in sources) if abs(c) > _ZERO]


def _facets(reach: list[complex]) -> tuple[complex, ...]:
    """The polygon's directions that some current in ``reach`` projects onto, without
    those another kept facet implies (its coefficients no larger for every current)."""
    rows: dict[tuple[float, ...], complex] = {}
    for m in range(SIDES):
        d = cmath.exp(2j * math.pi * m / SIDES)
        coefficients = tuple(round(max(0.0, (c * d.conjugate()).real), 12) for c in reach)
        if any(v > _ZERO for v in coefficients):
            rows.setdefault(coefficients, d)
    kept = [
        d
        for co, d in rows.items()
        if not any(
            other != co and all(a <= b for a, b in zip(co, other, strict=True)) for other in rows
        )
    ]
    return tuple(kept)
