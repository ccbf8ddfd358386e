"""Reading the load history at a step (``GET .../load/history``).

The step decides the stored resolution read: the coarsest one that divides the step and
still holds ``from`` (a step finer than anything kept that far back is raised to it, and
the answer says so). Downsampled buckets exist up to the job's mark; the minutes after it
are computed from full resolution, so the last minutes are in every answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chargegrid.domain.errors import InvalidValue
from chargegrid.services.history_aggregate import Bucket, combine, from_raw, split_packed
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.history_codec import decode
from chargegrid.store.history_store import Sample, Series, SqlHistoryStore

# Steps chosen when none is asked for: the smallest giving at most default_points.
NICE_STEPS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


@dataclass(frozen=True, slots=True)
class StepPlan:
    start: int  # first bucket (``from`` rounded down to the step)
    end: int  # ``to``: buckets start before it
    step: int
    resolution: int  # the stored resolution read


@dataclass(frozen=True, slots=True)
class History:
    plan: StepPlan
    buckets: list[Bucket]


def plan_step(
    settings: HistorySettings, start: int, end: int, step: int | None, now: int
) -> StepPlan:
    if end <= start:
        raise InvalidValue.of("to", "must be after from")
    if step is not None and step < 1:
        raise InvalidValue.of("step", "must be a whole number of seconds >= 1")
    tiers = settings.tiers
    usable = [t.resolution_s for t in tiers if now - t.keep_s <= start] or [tiers[-1].resolution_s]
    finest = min(usable)
    wanted = step
    if wanted is None:
        target = (end - start) / settings.default_points
        wanted = next((s for s in NICE_STEPS if s >= target), NICE_STEPS[-1])
    effective = max(wanted, finest)
    dividing = [r for r in usable if effective % r == 0]
    if dividing:
        resolution = max(dividing)
    else:
        effective = math.ceil(effective / finest) * finest
        resolution = finest
    first = start - start % effective
    points = math.ceil((end - first) / effective)
    if points > settings.max_points:
        least = math.ceil((end - start) / settings.max_points)
        raise InvalidValue.of(
            "step",
            f"{points} points from {effective} s steps; one answer holds at most "
            f"{settings.max_points} (use a step of at least {least} s or a shorter range)",
        )
    return StepPlan(first, end, effective, resolution)


async def read_history(
    store: SqlHistoryStore,
    settings: HistorySettings,
    series: Series | None,
    plan: StepPlan,
    now: int,
) -> History:
    if series is None:
        return History(plan, [])
    hold = settings.hold_s
    stop = min(plan.end, now)  # a last value does not stand into the future
    if plan.resolution == 1:
        raw = await _raw(store, series, plan.start - hold, stop)
        return History(plan, from_raw(raw, plan.start, stop, plan.step, hold))
    mark = (await store.marks()).get(plan.resolution, plan.start)
    stored_until = max(plan.start, min(mark, plan.end))
    rows = await store.read(series.id, plan.resolution, plan.start, stored_until)
    buckets = [_bucket(series.kind, row) for row in rows]
    if stored_until < stop:
        raw = await _raw(store, series, stored_until - hold, stop)
        buckets += from_raw(raw, stored_until, stop, plan.resolution, hold)
    return History(plan, combine(buckets, plan.step))


async def _raw(
    store: SqlHistoryStore, series: Series, start: int, end: int
) -> list[tuple[int, tuple[float | None, ...]]]:
    rows = await store.read(series.id, 1, start, end)
    return [(row.t, decode(series.kind, row.v)) for row in rows]


def _bucket(kind: str, row: Sample) -> Bucket:
    avg, top = split_packed(decode(kind, row.v))
    return Bucket(row.t, row.n, avg, top)


def buckets_of(kind: str, rows: Sequence[Sample]) -> list[Bucket]:
    """Downsampled rows as buckets (the job combines them into coarser ones)."""
    return [_bucket(kind, row) for row in rows]
