"""The load history's downsampling and retention job (run by the history component
every ``job_s``; docs/control-loop.md "Load history").

Each run, for each coarser resolution in turn: the buckets that ended at least ``lag_s``
ago and after its mark are computed from the resolution before it (full resolution for
the first), written with the new mark in one transaction; then every resolution's rows
older than its ``keep_s`` are deleted, and series left without rows. So each series
holds at most ``keep_s / resolution_s`` rows per resolution (the PRIMARY KEY allows one
row per second at full resolution), plus what arrives between two runs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chargegrid.services.history_aggregate import Bucket, combine, from_raw
from chargegrid.services.history_query import buckets_of
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.history_codec import Values, decode, encode
from chargegrid.store.history_store import Sample, SqlHistoryStore

log = logging.getLogger(__name__)

# One read at full resolution covers this much time (bounds the job's memory).
RAW_WINDOW_S = 300
DOWNSAMPLED_WINDOW_S = 6 * 3600
# Series aggregated between two chances for the other tasks to run.
YIELD_EVERY = 20
# A series may be made a moment before its first row is written.
EMPTY_SERIES_GRACE_S = 3600


@dataclass
class JobReport:
    written: dict[int, int] = field(default_factory=dict)  # buckets per resolution
    deleted: dict[int, int] = field(default_factory=dict)  # rows per resolution
    series_deleted: int = 0


class HistoryJob:
    def __init__(
        self,
        store: SqlHistoryStore,
        settings: HistorySettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._kinds: dict[int, str] = {}

    async def run_once(self) -> JobReport:
        report = JobReport()
        now = int(self.clock())
        tiers = self.settings.tiers
        self._kinds = await self.store.all_series()
        for finer, coarser in itertools.pairwise(tiers):
            report.written[coarser.resolution_s] = await self._downsample(
                finer.resolution_s, coarser.resolution_s, now
            )
        ids = sorted(self._kinds)
        for tier in tiers:
            report.deleted[tier.resolution_s] = await self.store.delete_before(
                tier.resolution_s, now - tier.keep_s, ids
            )
        report.series_deleted = await self.store.delete_empty_series(
            datetime.fromtimestamp(now - EMPTY_SERIES_GRACE_S, UTC)
        )
        return report

    async def _downsample(self, source: int, resolution: int, now: int) -> int:
        marks = await self.store.marks()
        end = now - self.settings.lag_s
        if source != 1:
            # Only what the finer resolution has finished.
            end = min(end, marks.get(source, 0))
        end -= end % resolution
        start = marks.get(resolution)
        had_mark = start is not None
        if start is None:
            first = await self.store.next_time(source, 0)
            start = end if first is None else min(end, first - first % resolution)
        written = 0
        window = RAW_WINDOW_S if source == 1 else DOWNSAMPLED_WINDOW_S
        window = max(resolution, window - window % resolution)
        while start < end or not had_mark:
            # Skip what has no rows (the server was off): a window at a time would take
            # a query per 5 minutes of the outage.
            ahead = await self.store.next_time(
                source, start - (self.settings.hold_s if source == 1 else 0)
            )
            if ahead is None:
                start = max(start, end)
            elif ahead > start:
                start = max(start, min(end, ahead - ahead % resolution))
            stop = min(end, start + window)
            samples = await self._window(source, resolution, start, stop)
            await self.store.write_downsampled(resolution, samples, stop, had_mark)
            had_mark = True
            written += len(samples)
            start = stop
        return written

    async def _window(self, source: int, resolution: int, start: int, stop: int) -> list[Sample]:
        if stop <= start:
            return []
        hold = self.settings.hold_s
        rows = await self.store.read_all(
            source, start - hold if source == 1 else start, stop, sorted(self._kinds)
        )
        by_series: dict[int, list[Sample]] = defaultdict(list)
        for row in rows:
            by_series[row.series_id].append(row)
        samples = []
        for done, (series_id, series_rows) in enumerate(by_series.items(), start=1):
            if done % YIELD_EVERY == 0:
                # The job shares the event loop with the control loop and the OCPP server:
                # let them in between series, not only at the database calls.
                await asyncio.sleep(0)
            kind = self._kinds.get(series_id)
            if kind is None:
                continue  # its series was deleted meanwhile
            buckets: list[Bucket]
            if source == 1:
                raw: list[tuple[int, Values]] = [(r.t, decode(kind, r.v)) for r in series_rows]
                buckets = from_raw(raw, start, stop, resolution, hold)
            else:
                buckets = combine(buckets_of(kind, series_rows), resolution)
            samples += [
                Sample(series_id, b.t, b.n, encode(kind, b.packed())) for b in buckets if b.n
            ]
        return samples
