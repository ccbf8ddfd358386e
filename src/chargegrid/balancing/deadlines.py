"""Deadline awareness: what a session with a departure and an energy wanted is given
above its minimum, and how much energy wanted caps what any session is given.

**Least laxity first, as a water level.** A session's laxity is the time it could
still wait and finish at its maximum: ``L = hours to departure - amp-hours wanted /
max current``. Given ``x`` A over the next ``HORIZON_H`` hours its laxity would become
``L - H + H * x / max``; the fill raises the *lowest resulting laxity* first, so
session ``i`` holds ``x = priority * max * (t - L + H) / H`` at water level ``t`` (hours),
clamped to [min, max]. The least lax car reaches its maximum before a relaxed one
gets anything above its minimum, and cars of equal laxity share (a continuous least
laxity first; priority makes a car's share rise faster). It is the max-min optimum of
the laxity left after the horizon, so a single fill (water-filling with an offset,
``waterfill.py``) answers it.

**Energy wanted caps.** A session needs only what delivers its energy wanted within
the next decision period (``Problem.period_s``): more would be current held for a car
that stops drawing it. Never below its minimum, so it is not stopped for being nearly
full (the car ends the charge itself).
"""

from __future__ import annotations

from chargegrid.balancing.model import Demand

SECONDS_PER_HOUR = 3600.0
# How far ahead the laxity is looked at. Short makes the fill a strict least laxity
# first; long makes it closer to proportional sharing. Chosen on the ACN-Data replay
# (bench/results/allocator.md).
HORIZON_H = 1.0
# A car that is not charging yet and could still finish at its maximum after waiting
# this long (its laxity, hours) starts only in what the others leave.
DEFER_LAXITY_H = 0.5
# A session without a deadline competes in the least-laxity fill as if it could wait
# this long at a maximum of this many A (the same for all of them, so among themselves
# they stay max-min fair by weight) ...
RELAXED_LAXITY_H = DEFER_LAXITY_H
RELAXED_PACE_A = 32.0
# ... above a floor it always keeps: this share of its weighted max-min fair share
# among the admitted sessions as if nobody had a deadline (never below its minimum).
FLOOR_SHARE = 0.5


def has_deadline(demand: Demand) -> bool:
    return demand.departure_at is not None and demand.energy_wanted_wh is not None


def laxity_hours(demand: Demand, now: float, phases: int, voltage: float) -> float:
    """Hours the session could still wait and finish at its maximum (negative: it
    cannot finish any more). Only for a session with a deadline and a maximum > 0."""
    assert demand.departure_at is not None and demand.energy_wanted_wh is not None
    amp_hours = max(0.0, demand.energy_wanted_wh) / (voltage * phases)
    return (demand.departure_at - now) / SECONDS_PER_HOUR - amp_hours / demand.max_current


def laxity_curve(max_micro: float, laxity: float, priority: float) -> tuple[float, float]:
    """(slope, offset) of ``x = slope * t + offset`` (µA at water level ``t`` hours)."""
    slope = priority * max_micro / HORIZON_H
    return slope, slope * (HORIZON_H - laxity)


def energy_cap(demand: Demand, phases: int, voltage: float, period_s: float) -> float:
    """The most current worth giving the session (A): what delivers its energy wanted
    within one decision period, never below its minimum; its maximum without an
    energy wanted."""
    if demand.energy_wanted_wh is None or period_s <= 0.0:
        return demand.max_current
    needed = max(0.0, demand.energy_wanted_wh) / (voltage * phases * period_s / SECONDS_PER_HOUR)
    return min(demand.max_current, max(demand.min_current, needed))
