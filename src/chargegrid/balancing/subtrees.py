"""Sessions in depth-first order of their nodes, so the sessions that load a node (its
own and all below it) are one run.

Questions about one resource (which sessions are in it, what it carries) then become
slices of a few flat lists instead of a list per resource built on every call: at a
thousand sessions that is thousands of small lists less per decision, work that also
feeds CPython's garbage collector.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter, itemgetter, mul
from typing import Protocol

from chargegrid.balancing.switching import Option


class Shape(Protocol):
    """What this needs of a compiled tree (``tree.Topology``): node intervals in
    depth-first order, and a slot for the last call's runs. A protocol, so the tree can
    hold ``Subtrees`` without this module importing it back."""

    @property
    def dfs_start(self) -> tuple[int, ...]: ...

    @property
    def dfs_stop(self) -> tuple[int, ...]: ...

    @property
    def last_runs(self) -> list[tuple[list[int], list[Option], Subtrees] | None]: ...


_per_phase = attrgetter("per_phase")
_PHASES = tuple(itemgetter(p) for p in range(3))


def runs_of(shape: Shape, nodes: list[int], options: list[Option]) -> Subtrees:
    """``Subtrees(shape, nodes, options)``, reusing the last call's when the same
    sessions were admitted on the same phases (Option objects are shared, so the list
    comparison is mostly identity checks)."""
    last = shape.last_runs[0]
    if last is not None and last[0] == nodes and last[1] == options:
        return last[2]
    runs = Subtrees(shape, nodes, options)
    # Copies: the caller may extend its lists afterwards (sessions admitted late).
    shape.last_runs[0] = (list(nodes), list(options), runs)
    return runs


class Subtrees:
    """Sessions ``0..n-1`` (each at ``nodes[i]``, loading ``options[i].phases``)."""

    __slots__ = ("_masks", "_order", "_runs")

    def __init__(self, shape: Shape, nodes: Sequence[int], options: Sequence[Option]) -> None:
        keys = list(map(shape.dfs_start.__getitem__, nodes))
        # Stable: sessions at the same node stay in index order.
        self._order = sorted(range(len(keys)), key=keys.__getitem__)
        # How many sessions sit before each depth-first position; a node's run is from
        # its own position to the one after its subtree.
        counted = Counter(keys)
        before = list(
            accumulate(map(counted.get, range(len(shape.dfs_start)), repeat(0)), initial=0)
        )
        self._runs = list(
            map(
                slice,
                map(before.__getitem__, shape.dfs_start),
                map(before.__getitem__, shape.dfs_stop),
            )
        )
        shapes = list(map(_per_phase, map(options.__getitem__, self._order)))
        # Per grid phase, in run order: 1.0 where the session loads that phase.
        self._masks = tuple(list(map(phase, shapes)) for phase in _PHASES)

    def carriers(self, resource: int) -> list[int]:
        """The sessions loading ``resource`` (node * 3 + phase), in index order."""
        run = self._runs[resource // 3]
        return sorted(compress(self._order[run], self._masks[resource % 3][run]))

    def columns(self, currents: Sequence[float]) -> tuple[list[float], ...]:
        """Per grid phase, each session's current on it (0.0 where it does not load
        it), in run order."""
        in_order = list(map(currents.__getitem__, self._order))
        return tuple(list(map(mul, in_order, mask)) for mask in self._masks)

    def parts(self, columns: tuple[list[float], ...], resource: int) -> list[float]:
        """The currents on ``resource`` (with zeros for sessions in the subtree that do
        not load its phase: they change no sum)."""
        return columns[resource % 3][self._runs[resource // 3]]

    def loads(self, columns: tuple[list[float], ...]) -> list[float]:
        """Per resource, the exact (correctly rounded) sum of the currents on it."""
        per_phase = [
            list(map(math.fsum, map(column.__getitem__, self._runs))) for column in columns
        ]
        return list(chain.from_iterable(zip(*per_phase, strict=True)))
