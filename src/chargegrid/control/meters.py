"""Electricity meters: the latest reading of each, and whether it is still fresh.

Age counts from the reading's own timestamp when that is older than its arrival (a
meter gateway replaying a backlog must not look fresh), else from its arrival.
A meter with no fresh reading tells the loop to reserve the node's
``offline_reserved_current`` instead of trusting a number that may be long wrong.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

PhaseReading = tuple[float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class MeterReading:
    currents: PhaseReading  # A on the meter's L1..L3
    taken_at: float  # monotonic moment the reading describes


class MeterBook:
    def __init__(self) -> None:
        self._latest: dict[str, MeterReading] = {}

    def record(
        self, meter_id: str, currents: PhaseReading, received_at: float, age_s: float
    ) -> bool:
        """Keep the reading if it is newer than the one held; ``age_s`` is how old its
        timestamp says it is on arrival. True if kept."""
        taken_at = received_at - max(0.0, age_s)
        held = self._latest.get(meter_id)
        if held is not None and held.taken_at >= taken_at:
            return False
        self._latest[meter_id] = MeterReading(currents, taken_at)
        return True

    def fresh(self, meter_id: str, now: float, max_age_s: float) -> PhaseReading | None:
        """The latest reading if younger than ``max_age_s``; None when stale or never seen."""
        reading = self._latest.get(meter_id)
        if reading is None or now - reading.taken_at > max_age_s:
            return None
        return reading.currents

    def expires_at(self, meter_id: str, max_age_s: float) -> float | None:
        """When the held reading goes stale (the loop recomputes then)."""
        reading = self._latest.get(meter_id)
        return None if reading is None else reading.taken_at + max_age_s


class PeakHold:
    """The highest of a node's unmanaged-load estimates over the last ``window_s``.

    Unmanaged = meter total - our cars' own readings, and the two never arrive at the
    same instant: while a car ramps down, its older, higher reading makes the estimate
    too LOW for a moment, and the plan would hand out current that is in use. Holding
    the peak over a window longer than the cars' reading interval removes that dip;
    the price is that freed building load comes back to the cars ``window_s`` late.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._seen: dict[str, deque[tuple[float, tuple[float, float, float]]]] = {}

    def update(
        self, key: str, now: float, value: tuple[float, float, float]
    ) -> tuple[float, float, float]:
        seen = self._seen.setdefault(key, deque())
        seen.append((now, value))
        while seen and seen[0][0] < now - self.window_s:
            seen.popleft()
        return (
            max(v[0] for _, v in seen),
            max(v[1] for _, v in seen),
            max(v[2] for _, v in seen),
        )
