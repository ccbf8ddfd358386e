"""Weighted max-min fair water-filling over shared per-phase resources.

Every session starts at its minimum (admission already reserved it) and, once the
common water level ``t`` reaches ``(lo - b) / w``, rises as ``w * t + b`` until it
reaches its maximum or one of its resources fills up; a full resource freezes every
session in it. With ``b = 0`` that is progressive filling, whose result is the
lexicographic max-min optimum of ``x / w`` for packing constraints like fuses; with an
offset it is the max-min optimum of ``(x - b) / w`` (deadlines.py uses that to fill by
laxity). Either way Pareto efficient: a session below its maximum always sits in a full
resource.

Rather than stepping ``t``, the loop jumps between events: a session starts rising, a
session reaches its maximum, a resource fills. Each resource's use above the minimums is
kept as a line ``base + slope * (t - since)``, refreshed only when its slope changes, and
its predicted fill time sits in a heap with a version number to skip stale entries. Each
session touches its resources a bounded number of times, so the cost is
O(N * d * log R) for N sessions of d resources each.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import truediv

_WAITING, _RISING, _DONE = 0, 1, 2
NO_BOTTLENECK = -1


@dataclass(slots=True)
class FillResult:
    values: list[float]
    # The resource that froze each session, or NO_BOTTLENECK (at its maximum).
    bottleneck: list[int]


def water_fill(
    spare: Sequence[float],
    members: Sequence[Sequence[int]],
    lo: Sequence[float],
    hi: Sequence[float],
    weight: Sequence[float],
    carriers: Callable[[int], Iterable[int]],
    offset: Sequence[float] | None = None,
    *,
    scale: Sequence[Sequence[float]] | None = None,
) -> FillResult:
    """Raise sessions from ``lo`` towards ``hi`` fairly by ``weight`` (all > 0), each
    along ``weight * t + offset`` (offset 0 when None).

    ``spare[r]`` is what resource ``r`` still holds once every session sits at ``lo``;
    ``members[s]`` are the resources session ``s`` loads (each by its own current), and
    ``carriers(r)`` the sessions that load ``r``, in increasing order (asked only for
    the few resources that fill). ``scale[s]``, where given, says how much session ``s``
    loads each of its resources per ampere (1 for all when None).
    """
    count = len(members)
    values = list(lo)
    bottleneck = [NO_BOTTLENECK] * count
    state = [_WAITING if h > low else _DONE for low, h in zip(lo, hi, strict=True)]
    resources = len(spare)
    base = [0.0] * resources
    slope = [0.0] * resources
    since = [0.0] * resources
    version = [0] * resources
    # The slope change each resource gets at the event being handled (0.0 elsewhere).
    delta = [0.0] * resources
    fills: list[tuple[float, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop

    # Start levels, in order (ties by session, as the index sort is stable); sessions
    # already at their maximum are skipped as they come.
    if offset is None:
        offset = [0.0] * count
        level = list(map(truediv, lo, weight))
    else:
        level = [(low - b) / w for low, b, w in zip(lo, offset, weight, strict=True)]
    starts = sorted(range(count), key=level.__getitem__)
    # Sessions not yet at their maximum nor frozen; once none is left, nothing more can
    # change (later events would only re-predict fills nobody is in).
    unsettled = state.count(_WAITING)
    stops: list[tuple[float, int]] = []
    next_start = 0

    def shift(sessions: list[int], sign: float, t: float) -> None:
        """Add (sign 1) or take away (sign -1) ``sessions``' weights from the slopes of
        their resources at level ``t``, and re-predict when those fill."""
        for s in sessions:
            w = sign * weight[s]
            if scale is None:
                for r in members[s]:
                    delta[r] += w
            else:
                # A session loading a resource by a coefficient (balancing.wiring's
                # rows) moves its slope by that much.
                for r, c in zip(members[s], scale[s], strict=True):
                    delta[r] += w * c
        for r in set(chain.from_iterable(map(members.__getitem__, sessions))):
            base[r] += slope[r] * (t - since[r])
            since[r] = t
            slope[r] += delta[r]
            delta[r] = 0.0
            version[r] += 1
            if slope[r] > 1e-12:
                room = spare[r] - base[r]
                push(fills, (t + max(room, 0.0) / slope[r], version[r], r))
            else:
                slope[r] = 0.0

    inf = float("inf")
    while unsettled:
        while fills and fills[0][1] != version[fills[0][2]]:
            pop(fills)
        t_fill = fills[0][0] if fills else inf
        while stops and state[stops[0][1]] != _RISING:
            pop(stops)
        t_stop = stops[0][0] if stops else inf
        while next_start < count and state[starts[next_start]] != _WAITING:
            next_start += 1
        t_start = level[starts[next_start]] if next_start < count else inf
        t = min(t_fill, t_stop, t_start)
        if t == inf:
            break
        if t_fill <= t:
            # A full resource freezes all it carries, waiting ones too: they could
            # never rise without overfilling it.
            _, _, r = pop(fills)
            frozen: list[int] = []
            for s in carriers(r):
                if state[s] == _RISING:
                    values[s] = min(hi[s], max(lo[s], weight[s] * t + offset[s]))
                    frozen.append(s)
                if state[s] != _DONE:
                    state[s] = _DONE
                    bottleneck[s] = r
                    unsettled -= 1
            if unsettled:
                shift(frozen, -1.0, t)
        elif t_stop <= t:
            reached: list[int] = []
            while stops and stops[0][0] <= t:
                _, s = pop(stops)
                if state[s] == _RISING:
                    state[s] = _DONE
                    values[s] = hi[s]
                    reached.append(s)
                    unsettled -= 1
            if unsettled:
                shift(reached, -1.0, t)
        else:
            rising: list[int] = []
            while next_start < count and level[starts[next_start]] <= t:
                s = starts[next_start]
                next_start += 1
                if state[s] != _WAITING:
                    continue
                state[s] = _RISING
                push(stops, ((hi[s] - offset[s]) / weight[s], s))
                rising.append(s)
            shift(rising, 1.0, t)
    return FillResult(values, bottleneck)
