"""What the simulated cars physically drew, per grid phase, over time.

The load-management tests compare this (not what the charger reported) with the
fuses: it is the current that would really flow through the site's conductors.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DrawSample:
    t: float  # monotonic seconds
    ocpp_id: str
    connector_id: int
    l1: float
    l2: float
    l3: float
    limit: float | None  # the limit the charger applied (A per phase), None: no profile


class DrawLog:
    def __init__(self, maxlen: int = 200_000) -> None:
        self.samples: deque[DrawSample] = deque(maxlen=maxlen)
        self._latest: dict[tuple[str, int], DrawSample] = {}

    def record(self, sample: DrawSample) -> None:
        self.samples.append(sample)
        self._latest[(sample.ocpp_id, sample.connector_id)] = sample

    def latest(self, ocpp_id: str, connector_id: int) -> DrawSample | None:
        return self._latest.get((ocpp_id, connector_id))

    def site_total(self) -> tuple[float, float, float]:
        """Sum over every connector's latest sample: the grid load right now."""
        l1 = sum(s.l1 for s in self._latest.values())
        l2 = sum(s.l2 for s in self._latest.values())
        l3 = sum(s.l3 for s in self._latest.values())
        return l1, l2, l3

    def series(self, ocpp_id: str, connector_id: int) -> list[DrawSample]:
        return [s for s in self.samples if s.ocpp_id == ocpp_id and s.connector_id == connector_id]
