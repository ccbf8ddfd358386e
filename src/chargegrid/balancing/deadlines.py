"""Deadline awareness: a session that needs a larger share of its maximum to finish by
its departure gets a larger weight (least laxity first, made continuous).

``need = energy still wanted / (what its maximum would deliver until departure)`` is
``1 - laxity / time left``: 0 for a car with all the time in the world, 1 for one that
must charge flat out from now on to make it. Its weight is multiplied by ``1 + need``, so
among equal priorities an urgent car gets up to twice the share of a relaxed one, while a
higher priority still counts. Admission (rule 3) never looks at this, so deadlines cannot
reorder who charges when minimums do not fit.
"""

from __future__ import annotations

from chargegrid.balancing.model import Demand

SECONDS_PER_HOUR = 3600.0


def urgency(demand: Demand, now: float, phases: int, voltage: float) -> float:
    """How much of its maximum the session needs on average until departure, in [0, 1]."""
    if demand.departure_at is None or demand.energy_wanted_wh is None:
        return 0.0
    if demand.energy_wanted_wh <= 0.0 or demand.max_current <= 0.0 or phases <= 0:
        return 0.0
    hours_left = (demand.departure_at - now) / SECONDS_PER_HOUR
    if hours_left <= 0.0:
        # Already past its departure and still wanting energy: as late as it gets.
        return 1.0
    deliverable_wh = demand.max_current * voltage * phases * hours_left
    return min(1.0, demand.energy_wanted_wh / deliverable_wh)


def effective_weight(demand: Demand, now: float, phases: int, voltage: float) -> float:
    return demand.weight * (1.0 + urgency(demand, now, phases, voltage))
