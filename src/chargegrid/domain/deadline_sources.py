"""Where a session's departure time and energy wanted come from, and which source wins.

Four sources, strongest first (docs/deadlines.md):

1. ``api``: someone said so through ``PATCH /sessions/{id}`` (owner and up);
2. ``charger``: the car said so (OCPP 2.0.1 NotifyEVChargingNeeds, ISO 15118);
3. ``id_tag_default``: the id tag's standing defaults (``default_departure_time``,
   ``default_dwell_s``, ``default_energy_wh``);
4. ``predicted``: learnt from the id tag's (or the site's) past sessions.

A person's word for this session beats the car's, the car's (its driver's input for
this trip) beats a standing default, and any of them beats a guess. Each field (the
departure, the energy) is resolved on its own: a PATCH of the energy alone leaves a
departure the car gave. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class DeadlineSource(StrEnum):
    API = "api"
    CHARGER = "charger"
    ID_TAG_DEFAULT = "id_tag_default"
    PREDICTED = "predicted"


_RANK = {
    DeadlineSource.PREDICTED: 1,
    DeadlineSource.ID_TAG_DEFAULT: 2,
    DeadlineSource.CHARGER: 3,
    DeadlineSource.API: 4,
}

# What someone stated is taken as certain; only a prediction carries less.
STATED_CONFIDENCE = 1.0
# More than any car's battery (the largest trucks' hold about 1 MWh): a typo, not a wish.
MAX_ENERGY_WH = 1_000_000.0
# A default stay longer than a week is no habit.
MAX_DWELL_S = 7 * 86400


def rank(source: str | None) -> int:
    """0 for no source (or one this version does not know), else its strength."""
    try:
        return _RANK[DeadlineSource(source)] if source is not None else 0
    except ValueError:
        return 0


def may_replace(current: str | None, new: DeadlineSource) -> bool:
    """Whether a value from ``new`` replaces one from ``current`` (the same source
    replaces itself: the car asks again, the API is PATCHed again)."""
    return rank(new) >= rank(current)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One source's offer for a session: either field may be missing."""

    source: DeadlineSource
    departure_at: datetime | None = None
    energy_wh: float | None = None
    confidence: float = STATED_CONFIDENCE


@dataclass(frozen=True, slots=True)
class Resolved:
    departure_at: datetime | None
    departure_source: DeadlineSource | None
    departure_confidence: float | None
    energy_wh: float | None
    energy_source: DeadlineSource | None


NOTHING = Resolved(None, None, None, None, None)


def resolve(candidates: Iterable[Candidate]) -> Resolved:
    """The strongest source's value, field by field."""
    ordered = sorted(candidates, key=lambda c: rank(c.source), reverse=True)
    departure = next((c for c in ordered if c.departure_at is not None), None)
    energy = next((c for c in ordered if c.energy_wh is not None), None)
    return Resolved(
        departure_at=departure.departure_at if departure else None,
        departure_source=departure.source if departure else None,
        departure_confidence=departure.confidence if departure else None,
        energy_wh=energy.energy_wh if energy else None,
        energy_source=energy.source if energy else None,
    )


def parse_time_of_day(text: str) -> time:
    """``"17:30"`` (24-hour ``HH:MM``) as a time; ValueError otherwise."""
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) not in (1, 2) or len(minutes) != 2:
        raise ValueError("a local time of day as HH:MM, e.g. 17:30")
    if not (hours.isdigit() and minutes.isdigit()):
        raise ValueError("a local time of day as HH:MM, e.g. 17:30")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError("hours 0-23 and minutes 0-59")
    return time(h, m)


def default_departure(
    started_at: datetime,
    tz: ZoneInfo,
    departure_time: time | None,
    dwell_s: float | None,
) -> datetime | None:
    """An id tag's default departure for a session that started at ``started_at``: the
    first ``departure_time`` (local to the site) after the start (the next day's when
    the car arrives after it: an overnight stay), else start + ``dwell_s``."""
    if departure_time is not None:
        local_start = started_at.astimezone(tz)
        day = local_start.date()
        for _ in range(2):
            candidate = datetime.combine(day, departure_time, tzinfo=tz)
            if candidate > local_start:
                return candidate
            day += timedelta(days=1)
    if dwell_s is not None and dwell_s > 0:
        return started_at + timedelta(seconds=dwell_s)
    return None


__all__ = [
    "MAX_DWELL_S",
    "MAX_ENERGY_WH",
    "NOTHING",
    "STATED_CONFIDENCE",
    "Candidate",
    "DeadlineSource",
    "Resolved",
    "default_departure",
    "may_replace",
    "parse_time_of_day",
    "rank",
    "resolve",
]
