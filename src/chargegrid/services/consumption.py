"""Energy over time: what a session counts as (status, duration) and how sessions'
energy falls into a site's days or months (``GET /sites/{id}/consumption``).

Pure: sessions come in as plain values, buckets go out; the queries live in
``store/consumption.py``. Day and month boundaries are the site's local midnights (its
``timezone``), so a day in Oslo is 23, 24 or 25 hours long around the clock changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from chargegrid.store.models import ChargingSession

ACCEPTED = "Accepted"
Group = Literal["day", "month"]
MAX_BUCKETS = 1000  # ~2.7 years of days: a bounded answer


def session_status(session: ChargingSession) -> str:
    """active (open, accepted), completed (stopped, accepted) or refused (start refused:
    never ran, whatever its charger did after)."""
    if session.authorization_status != ACCEPTED:
        return "refused"
    return "active" if session.stopped_at is None else "completed"


def session_duration_s(session: ChargingSession, now: datetime) -> float:
    """Plugged-in time: to its stop, to ``now`` while active, 0 for an open refused start
    (it never ran, and would otherwise grow for ever)."""
    end = session.stopped_at
    if end is None:
        end = now if session.authorization_status == ACCEPTED else session.started_at
    return max(0.0, (end - session.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Usage:
    """One session as consumption sees it: its span, its energy and whose it is."""

    started_at: datetime
    ended_at: datetime  # stopped_at, or now while it runs
    energy_wh: float
    keys: tuple[Hashable, ...]  # the rows it counts in (a charger, its circuits, a tag)


@dataclass(slots=True)
class Bucket:
    energy_wh: float = 0.0
    duration_s: float = 0.0
    sessions: set[int] = field(default_factory=set)


def periods(start: datetime, end: datetime, group: Group, tz: ZoneInfo) -> list[datetime]:
    """The local day or month starts (as UTC) from the one holding ``start`` up to and
    including the first at or after ``end``: consecutive pairs are the periods."""
    local = start.astimezone(tz)
    first = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if group == "month":
        first = first.replace(day=1)
    bounds = [first]
    while bounds[-1].astimezone(UTC) < end:
        if len(bounds) > MAX_BUCKETS:
            raise ValueError(f"more than {MAX_BUCKETS} {group}s")
        bounds.append(_next(bounds[-1], group, tz))
    return [b.astimezone(UTC) for b in bounds]


def _next(start: datetime, group: Group, tz: ZoneInfo) -> datetime:
    # Built from the calendar date, not by adding 24 h: days around a DST change differ.
    if group == "day":
        day = start.date() + timedelta(days=1)
    else:
        day = (start.replace(day=28) + timedelta(days=4)).date().replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def distribute(
    usages: Iterable[Usage], bounds: list[datetime], window: tuple[datetime, datetime]
) -> dict[tuple[int, Hashable], Bucket]:
    """Each session's energy spread evenly over its time, clipped to ``window``, per
    (period index, key). A session counts in a period's ``sessions`` if it overlaps it."""
    out: dict[tuple[int, Hashable], Bucket] = {}
    lo, hi = window
    for n, usage in enumerate(usages):
        span = (usage.ended_at - usage.started_at).total_seconds()
        for index, (p_start, p_end) in enumerate(_pairs(bounds)):
            start = max(usage.started_at, p_start, lo)
            end = min(usage.ended_at, p_end, hi)
            instant = span == 0 and p_start <= usage.started_at < p_end
            if end <= start and not (instant and lo <= usage.started_at < hi):
                continue
            overlap = max(0.0, (end - start).total_seconds())
            share = 1.0 if span == 0 else overlap / span
            for key in usage.keys:
                bucket = out.setdefault((index, key), Bucket())
                bucket.energy_wh += usage.energy_wh * share
                bucket.duration_s += overlap
                bucket.sessions.add(n)
    return out


def _pairs(bounds: list[datetime]) -> Iterator[tuple[datetime, datetime]]:
    return itertools.pairwise(bounds)
