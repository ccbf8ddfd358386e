"""The load history's storage on SQLite or PostgreSQL (tables: ``store.history_tables``).

Everything is by series, resolution and time, so each read is one walk of the primary
key; the recorder writes a second's rows in one INSERT.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.store.history_tables import history_marks, history_samples, history_series
from chargegrid.store.types import utcnow

SeriesKey = tuple[str, uuid.UUID]  # (kind, ref_id)


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    kind: str
    ref_id: uuid.UUID
    site_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Sample:
    series_id: int
    t: int
    n: int
    v: bytes


class SqlHistoryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def ensure_series(
        self, wanted: Iterable[tuple[str, uuid.UUID, uuid.UUID]], now: datetime | None = None
    ) -> dict[SeriesKey, int]:
        """The ids of the series ``(kind, ref_id, site_id)``, created where missing. Only
        the recorder creates series, one flush at a time, so no insert races another."""
        wanted = list(wanted)
        if not wanted:
            return {}
        found = await self._series_ids({(kind, ref) for kind, ref, _ in wanted})
        missing = [w for w in wanted if (w[0], w[1]) not in found]
        if missing:
            now = now or utcnow()
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(history_series),
                    [
                        {"kind": kind, "ref_id": ref, "site_id": site, "created_at": now}
                        for kind, ref, site in dict.fromkeys(missing)
                    ],
                )
            found.update(await self._series_ids({(kind, ref) for kind, ref, _ in missing}))
        return found

    async def _series_ids(self, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
        c = history_series.c
        refs = [ref for _, ref in keys]
        found: dict[SeriesKey, int] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(refs), 500):  # bound the IN list
                rows = await conn.execute(
                    select(c.id, c.kind, c.ref_id).where(c.ref_id.in_(refs[start : start + 500]))
                )
                for series_id, kind, ref in rows:
                    if (kind, ref) in keys:
                        found[(kind, ref)] = series_id
        return found

    async def series(self, kind: str, ref_id: uuid.UUID) -> Series | None:
        c = history_series.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(c.id, c.kind, c.ref_id, c.site_id).where(
                        c.kind == kind, c.ref_id == ref_id
                    )
                )
            ).first()
        return None if row is None else Series(row[0], row[1], row[2], row[3])

    async def insert_samples(self, resolution: int, samples: Sequence[Sample]) -> None:
        """Insert rows; one already there for its series and second is kept (after a
        restart within a second, or a clock set back, the recorder may repeat one)."""
        if not samples:
            return
        rows = [
            {"series_id": s.series_id, "resolution": resolution, "t": s.t, "n": s.n, "v": s.v}
            for s in samples
        ]
        dialect_insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        async with self.engine.begin() as conn:
            await conn.execute(dialect_insert(history_samples).on_conflict_do_nothing(), rows)

    async def read(self, series_id: int, resolution: int, start: int, end: int) -> list[Sample]:
        """One series' rows of one resolution with ``start <= t < end``, oldest first."""
        c = history_samples.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.t, c.n, c.v)
                .where(
                    c.series_id == series_id,
                    c.resolution == resolution,
                    c.t >= start,
                    c.t < end,
                )
                .order_by(c.t)
            )
            return [Sample(series_id, t, n, bytes(v)) for t, n, v in rows]

    async def all_series(self) -> dict[int, str]:
        """Every series' id and kind (the job's reads go series by series, down the
        primary key, never through the whole table)."""
        c = history_series.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(c.id, c.kind))
            return {series_id: kind for series_id, kind in rows}

    async def read_all(
        self, resolution: int, start: int, end: int, series_ids: Sequence[int]
    ) -> list[Sample]:
        """Rows of one resolution in ``[start, end)`` of ``series_ids``, by series then
        time (the downsampling job reads a window at a time)."""
        c = history_samples.c
        out: list[Sample] = []
        async with self.engine.connect() as conn:
            for chunk in _chunks(series_ids):
                rows = await conn.execute(
                    select(c.series_id, c.t, c.n, c.v)
                    .where(
                        c.series_id.in_(chunk),
                        c.resolution == resolution,
                        c.t >= start,
                        c.t < end,
                    )
                    .order_by(c.series_id, c.t)
                )
                out += [Sample(series_id, t, n, bytes(v)) for series_id, t, n, v in rows]
        return out

    async def next_time(self, resolution: int, since: int) -> int | None:
        """The earliest bucket of ``resolution`` at or after ``since`` in any series:
        one primary-key seek per series."""
        c, s = history_samples.c, history_series.c
        first = (
            select(c.t)
            .where(c.series_id == s.id, c.resolution == resolution, c.t >= since)
            .order_by(c.t)
            .limit(1)
            .correlate(history_series)
            .scalar_subquery()
        )
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(func.min(first)).select_from(history_series))
        return None if value is None else int(value)

    async def marks(self) -> dict[int, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(history_marks.c.resolution, history_marks.c.done_until)
            )
            return {resolution: int(done) for resolution, done in rows}

    async def write_downsampled(
        self, resolution: int, samples: Sequence[Sample], done_until: int, had_mark: bool
    ) -> None:
        """A window's buckets and the mark past it, in one transaction: a crash leaves
        either both or neither, so no bucket is written twice."""
        async with self.engine.begin() as conn:
            if samples:
                await conn.execute(
                    insert(history_samples),
                    [
                        {
                            "series_id": s.series_id,
                            "resolution": resolution,
                            "t": s.t,
                            "n": s.n,
                            "v": s.v,
                        }
                        for s in samples
                    ],
                )
            m = history_marks.c
            if had_mark:
                await conn.execute(
                    update(history_marks)
                    .where(m.resolution == resolution)
                    .values(done_until=done_until)
                )
            else:
                await conn.execute(
                    insert(history_marks).values(resolution=resolution, done_until=done_until)
                )

    async def delete_before(self, resolution: int, before: int, series_ids: Sequence[int]) -> int:
        c = history_samples.c
        deleted = 0
        async with self.engine.begin() as conn:
            for chunk in _chunks(series_ids):
                result = await conn.execute(
                    delete(history_samples).where(
                        c.series_id.in_(chunk), c.resolution == resolution, c.t < before
                    )
                )
                deleted += int(result.rowcount or 0)
        return deleted

    async def delete_empty_series(self, created_before: datetime) -> int:
        """Series with no row left, made before ``created_before`` (one the recorder has
        just made may not have its first row yet)."""
        s, c = history_series.c, history_samples.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(history_series).where(
                    s.created_at < created_before,
                    ~exists().where(c.series_id == s.id),
                )
            )
        return int(result.rowcount or 0)

    async def count(self) -> dict[int, int]:
        """Rows per resolution (the bound the retention job keeps)."""
        c = history_samples.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(c.resolution, func.count()).group_by(c.resolution))
            return {resolution: int(n) for resolution, n in rows}


def _chunks(ids: Sequence[int], size: int = 200) -> Iterator[Sequence[int]]:
    """Bounded IN lists (and bounded work between two awaits for the caller)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
