"""Turning history rows into buckets: the downsampling job and the API both use it.

A full-resolution row states values from its time until the next row of its series, or
for at most ``hold`` seconds (the recorder repeats an unchanged value within that); a
row of all ``None`` ends the series (a session stopped, a circuit removed). A bucket's
average is weighted by the seconds each value stood in it, so a value that held for 50 s
counts five times one that held for 10 s; its maximum is the largest value that stood in
it. Coarser buckets are made from finer ones, averages weighted by their ``n`` (seconds
covered). A value that was unknown (``None``) for part of a bucket is averaged over the
part where it was known; ``n`` counts the seconds the series had a row at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chargegrid.store.history_codec import Values


@dataclass(frozen=True, slots=True)
class Bucket:
    t: int  # start, Unix seconds
    n: int  # seconds covered
    avg: Values
    max: Values

    def packed(self) -> tuple[float | None, ...]:
        """The averages then the maxima, as ``history_codec.encode`` stores them."""
        return self.avg + self.max


class _Acc:
    __slots__ = ("maxes", "n", "sums", "weights")

    def __init__(self, width: int) -> None:
        self.n = 0
        self.sums = [0.0] * width
        self.weights = [0] * width
        self.maxes: list[float | None] = [None] * width

    def add(self, avg: Values, top: Values, weight: int) -> None:
        self.n += weight
        for j, value in enumerate(avg):
            if value is not None:
                self.sums[j] += value * weight
                self.weights[j] += weight
        for j, value in enumerate(top):
            if value is not None:
                best = self.maxes[j]
                self.maxes[j] = value if best is None or value > best else best

    def bucket(self, t: int) -> Bucket:
        avg = tuple(
            round(s / w, 4) if w else None for s, w in zip(self.sums, self.weights, strict=True)
        )
        return Bucket(t, self.n, avg, tuple(self.maxes))


def from_raw(
    rows: Sequence[tuple[int, Values]],
    start: int,
    end: int,
    resolution: int,
    hold: int,
) -> list[Bucket]:
    """Buckets of ``resolution`` seconds over ``[start, end)`` from one series' full-
    resolution rows, oldest first; rows before ``start`` carry their values into it."""
    if not rows:
        return []
    width = len(rows[0][1])
    accs: dict[int, _Acc] = {}
    for i, (t, values) in enumerate(rows):
        following = rows[i + 1][0] if i + 1 < len(rows) else t + hold
        stop = min(following, t + hold, end)
        begin = max(t, start)
        if stop <= begin or all(v is None for v in values):
            continue
        b = begin - begin % resolution
        while b < stop:
            covered = min(stop, b + resolution) - max(begin, b)
            acc = accs.get(b)
            if acc is None:
                acc = accs[b] = _Acc(width)
            acc.add(values, values, covered)
            b += resolution
    return [accs[b].bucket(b) for b in sorted(accs)]


def combine(buckets: Iterable[Bucket], resolution: int) -> list[Bucket]:
    """Coarser buckets of ``resolution`` seconds from finer ones, oldest first."""
    accs: dict[int, _Acc] = {}
    for fine in buckets:
        b = fine.t - fine.t % resolution
        acc = accs.get(b)
        if acc is None:
            acc = accs[b] = _Acc(len(fine.avg))
        acc.add(fine.avg, fine.max, fine.n)
    return [accs[b].bucket(b) for b in sorted(accs)]


def split_packed(values: Values) -> tuple[Values, Values]:
    """A downsampled row's decoded values: (averages, maxima)."""
    half = len(values) // 2
    return values[:half], values[half:]
