"""Available-current overrides on a fuse (Zaptec ``AvailableCurrent``, Easee's TTL).

A site or circuit has a fixed rating, ``max_current`` (A per phase). An operator may
lower what the load manager hands out with an *override*: one value for all phases or
one per phase. A negative value clears it; a phase left out of a per-phase write goes
back to default; an optional time-to-live makes the override lapse on its own. The
effective limit is never above the rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chargegrid.domain.errors import ErrorCollector, InvalidValue

PHASE_FIELDS = ("available_current_phase1", "available_current_phase2", "available_current_phase3")


@dataclass(frozen=True, slots=True)
class PerPhase:
    l1: float
    l2: float
    l3: float

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.l1, self.l2, self.l3)


@dataclass(frozen=True, slots=True)
class Override:
    """What is stored: ``None`` on a phase means no override there."""

    phases: tuple[float | None, float | None, float | None] = (None, None, None)
    expires_at: datetime | None = None

    @property
    def is_set(self) -> bool:
        return any(p is not None for p in self.phases)

    def active(self, now: datetime) -> bool:
        return self.is_set and (self.expires_at is None or now < self.expires_at)

    def effective(self, max_current: float, now: datetime) -> PerPhase:
        """Per phase: the override while it lasts, else the rating; never above the rating."""
        live = self.phases if self.active(now) else (None, None, None)
        values = [max_current if p is None else max(0.0, min(p, max_current)) for p in live]
        return PerPhase(values[0], values[1], values[2])

    @property
    def common_value(self) -> float | None:
        """The single value when one was set on all phases alike, else None."""
        first = self.phases[0]
        return first if first is not None and all(p == first for p in self.phases) else None


NO_OVERRIDE = Override()


@dataclass(frozen=True, slots=True)
class OverrideWrite:
    """An API write. Each field is a float, None (explicit null) or absent (``given`` false)."""

    given: frozenset[str]
    available_current: float | None = None
    phase1: float | None = None
    phase2: float | None = None
    phase3: float | None = None
    ttl_s: float | None = None

    @property
    def touches_override(self) -> bool:
        return bool(self.given & {"available_current", *PHASE_FIELDS})


def apply_override_write(
    current: Override, write: OverrideWrite, now: datetime, ceiling: float | None = None
) -> Override:
    """The override after ``write``; raises InvalidValue naming the offending field.

    - ``available_current``: a number sets all phases; negative or null clears.
    - per-phase fields: each given phase is set (negative/null = default); phases
      left out go to default, as Zaptec documents.
    - giving both forms is ambiguous and rejected.
    - ``available_current_ttl_s`` (> 0) makes a new override lapse; it needs one.
    - a value above ``ceiling`` (the node's max_current) is stored as the ceiling, as
      Zaptec limits available current to the breaker rating.
    """
    errors = ErrorCollector()
    per_phase_given = [f for f in PHASE_FIELDS if f in write.given]
    if "available_current" in write.given and per_phase_given:
        errors.add(
            "available_current",
            "give either available_current or available_current_phase1..3, not both",
        )
    ttl_given = "available_current_ttl_s" in write.given and write.ttl_s is not None
    if ttl_given and write.ttl_s is not None and write.ttl_s <= 0:
        errors.add("available_current_ttl_s", "must be greater than 0 seconds")
    if ttl_given and not write.touches_override:
        errors.add("available_current_ttl_s", "only together with an available current override")
    errors.raise_if_any()

    if not write.touches_override:
        return current
    if "available_current" in write.given:
        value = _clean(write.available_current, ceiling)
        phases: tuple[float | None, float | None, float | None] = (value, value, value)
    else:
        phases = (
            _clean(write.phase1, ceiling),
            _clean(write.phase2, ceiling),
            _clean(write.phase3, ceiling),
        )
    if not any(p is not None for p in phases):
        return NO_OVERRIDE
    expires = now + timedelta(seconds=write.ttl_s) if ttl_given and write.ttl_s else None
    return Override(phases, expires)


def _clean(value: float | None, ceiling: float | None) -> float | None:
    """Negative means 'back to default' (Zaptec's -1 convention)."""
    if value is None or value < 0:
        return None
    return float(value) if ceiling is None else min(float(value), ceiling)


def check_rating(field_name: str, value: float, ceiling: float | None, what: str) -> None:
    """A fuse may not be rated above the fuse that feeds it."""
    if ceiling is not None and value > ceiling:
        raise InvalidValue.of(field_name, f"{value:g} A exceeds the {what}'s {ceiling:g} A")
