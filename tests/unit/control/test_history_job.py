"""The load history's recorder and its downsampling/retention job, on a fake clock, on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from chargegrid.services.history_aggregate import split_packed
from chargegrid.services.history_job import HistoryJob
from chargegrid.services.history_recorder import HistoryRecorder
from chargegrid.services.history_settings import HistorySettings, Tier
from chargegrid.store.db import Database
from chargegrid.store.history_codec import decode
from chargegrid.store.history_store import SqlHistoryStore
from chargegrid.store.history_tables import history_samples, history_series

T0 = 1_790_000_000 - 1_790_000_000 % 900  # a 15-minute boundary
SITE, CIRCUIT, SESSION = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def view(
    measured: float, limit: float = 32.0, *, session: bool = True, site: uuid.UUID = SITE
) -> dict[str, Any]:
    def phases(lim: float) -> dict[str, Any]:
        return {
            p: {"limit": lim, "allocated": 16.0, "measured": measured, "unmanaged": 1.0}
            for p in ("l1", "l2", "l3")
        }

    return {
        "site_id": str(site),
        "nodes": [
            {"id": str(site), "kind": "site", "phases": phases(63.0)},
            {"id": str(CIRCUIT), "kind": "circuit", "phases": phases(limit)},
        ],
        "sessions": [
            {
                "session_id": str(SESSION),
                "limit": 16.0,
                "phases": 3,
                "measured": {"l1": measured, "l2": measured, "l3": None},
            },
            {"session_id": "untracked:x:1", "limit": 6.0, "phases": 1, "measured": {}},
        ]
        if session
        else [],
    }


async def raw_rows(db: Database, kind: str, ref: uuid.UUID, resolution: int = 1) -> list[Any]:
    s, c = history_series.c, history_samples.c
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(c.t, c.n, c.v)
            .join(history_series, s.id == c.series_id)
            .where(s.kind == kind, s.ref_id == ref, c.resolution == resolution)
            .order_by(c.t)
        )
        return [(t, n, decode(kind, bytes(v))) for t, n, v in rows]


async def test_rows_are_written_on_change_repeated_on_keepalive_and_ended(db: Database) -> None:
    clock = Clock(T0)
    recorder = HistoryRecorder(SqlHistoryStore(db.engine), HistorySettings(), clock)
    recorder.offer("site.load_changed", view(10.0))
    recorder.offer("session.updated", {"session_id": str(SESSION), "power_w": 7_000.0})
    assert await recorder.flush() == 3  # site, circuit, session (not the untracked one)
    clock.now += 1
    recorder.offer("site.load_changed", view(10.0))
    assert await recorder.flush() == 0  # nothing changed
    recorder.offer("site.load_changed", view(12.0))
    assert await recorder.flush() == 3
    recorder.offer("site.load_changed", view(14.0))
    assert await recorder.flush() == 0  # a row this second already: the next flush
    clock.now += 1
    assert await recorder.flush() == 3
    clock.now += 60
    assert await recorder.flush() == 3  # keepalive: unchanged values written again
    clock.now += 1
    recorder.offer("site.load_changed", view(14.0, session=False))
    assert await recorder.flush() == 1  # the session ended
    session_rows = await raw_rows(db, "session", SESSION)
    assert [t - T0 for t, _, _ in session_rows] == [0, 1, 2, 62, 63]
    assert session_rows[0][2] == (16.0, 3.0, 10.0, 10.0, None, 7_000.0)
    assert session_rows[2][2][2] == 14.0
    assert session_rows[-1][2] == (None,) * 6
    assert [t - T0 for t, _, _ in await raw_rows(db, "circuit", CIRCUIT)] == [0, 1, 2, 62]


async def test_power_alone_makes_a_session_row(db: Database) -> None:
    clock = Clock(T0)
    recorder = HistoryRecorder(SqlHistoryStore(db.engine), HistorySettings(), clock)
    recorder.offer("site.load_changed", view(10.0))
    await recorder.flush()
    clock.now += 1
    recorder.offer("session.updated", {"session_id": str(SESSION), "power_w": 4_000.0})
    assert await recorder.flush() == 1
    assert (await raw_rows(db, "session", SESSION))[-1][2][5] == 4_000.0


async def test_one_minute_buckets_average_over_time_and_keep_the_maximum(db: Database) -> None:
    clock = Clock(T0)
    store = SqlHistoryStore(db.engine)
    recorder = HistoryRecorder(store, HistorySettings(), clock)
    # First minute: 10 A for 15 s, 30 A for 45 s; second minute: 20 A throughout.
    for second, measured in ((0, 10.0), (15, 30.0), (60, 20.0), (119, 20.0)):
        clock.now = T0 + second
        recorder.offer("site.load_changed", view(measured))
        await recorder.flush()
    job = HistoryJob(store, HistorySettings(), Clock(T0 + 130))
    report = await job.run_once()
    assert report.written[60] == 2 * 3  # two minutes of site, circuit, session
    minutes = await raw_rows(db, "circuit", CIRCUIT, 60)
    assert [(t - T0, n) for t, n, _ in minutes] == [(0, 60), (60, 60)]
    avg, top = split_packed(minutes[0][2])
    assert avg[6:9] == (25.0, 25.0, 25.0)  # measured: (10*15 + 30*45) / 60
    assert top[6:9] == (30.0, 30.0, 30.0)
    assert avg[0:3] == (32.0, 32.0, 32.0)
    assert split_packed(minutes[1][2])[0][6] == 20.0
    # Nothing is written twice: the next run starts at the mark.
    assert (await job.run_once()).written[60] == 0
    # Full resolution is kept a day, then only the minutes remain.
    assert len(await raw_rows(db, "circuit", CIRCUIT)) == 3
    job.clock = Clock(T0 + 86_400 - 1)
    await job.run_once()
    assert len(await raw_rows(db, "circuit", CIRCUIT)) == 3
    job.clock = Clock(T0 + 86_400 + 200)
    await job.run_once()
    assert await raw_rows(db, "circuit", CIRCUIT) == []
    # The last row (20 A at 60 s; 119 s changed nothing) stands for hold_s = 66 s: 6 s
    # into the third minute, then the series has no value (the recording stopped).
    minutes = await raw_rows(db, "circuit", CIRCUIT, 60)
    assert [(t - T0, n) for t, n, _ in minutes] == [(0, 60), (60, 60), (120, 6)]
    (quarter,) = await raw_rows(db, "circuit", CIRCUIT, 900)
    assert quarter[1] == 126
    assert split_packed(quarter[2])[0][6] == round((25 * 60 + 20 * 60 + 20 * 6) / 126, 2)


async def test_retention_keeps_every_resolution_within_its_bound(db: Database) -> None:
    """Recording a value that changes every second for 12.5 simulated minutes with small
    tiers: no series ever holds more than keep/resolution rows per resolution (plus what
    one job period adds), and the total stops growing. (Half the tiers, job period, lag
    and run of 25 minutes with 1 s / 10 s / 60 s tiers: the same ratios, half the commits,
    which is what this costs on PostgreSQL.)"""
    settings = HistorySettings(
        tiers=(Tier(1, 30), Tier(5, 150), Tier(30, 450)), keepalive_s=5, job_s=15, lag_s=5
    )
    clock = Clock(T0)
    store = SqlHistoryStore(db.engine)
    recorder = HistoryRecorder(store, settings, clock)
    job = HistoryJob(store, settings, clock)
    totals = []
    for second in range(750):
        clock.now = T0 + second
        recorder.offer("site.load_changed", view(float(second % 7)))
        await recorder.flush()
        if second % int(settings.job_s) == 0:
            await job.run_once()
            counts = await store.count()
            for tier in settings.tiers:
                slack = int(settings.job_s) // tier.resolution_s + 1
                assert counts.get(tier.resolution_s, 0) <= 3 * (
                    tier.keep_s // tier.resolution_s + slack
                ), (second, counts)
            totals.append(sum(counts.values()))
    assert totals[-1] == totals[-2]  # steady: as much deleted as written each period
    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(history_series)) == 3


async def test_series_without_rows_are_removed(db: Database) -> None:
    clock = Clock(T0)
    store = SqlHistoryStore(db.engine)
    recorder = HistoryRecorder(store, HistorySettings(), clock)
    recorder.offer("site.load_changed", view(10.0))
    await recorder.flush()
    job = HistoryJob(store, HistorySettings(), Clock(T0 + 500 * 86_400))
    report = await job.run_once()
    assert report.series_deleted == 3
    assert await store.series("site", SITE) is None


async def test_a_restart_within_the_same_second_does_not_fail_the_flush(db: Database) -> None:
    clock = Clock(T0)
    store = SqlHistoryStore(db.engine)
    first = HistoryRecorder(store, HistorySettings(), clock)
    first.offer("site.load_changed", view(10.0))
    assert await first.flush() == 3
    again = HistoryRecorder(store, HistorySettings(), clock)  # a new process, same second
    again.offer("site.load_changed", view(12.0))
    assert await again.flush() == 3  # the rows already there are kept
    assert [v[2][6] for v in await raw_rows(db, "circuit", CIRCUIT)] == [10.0]


class FailingOnce(SqlHistoryStore):
    failed = False

    async def insert_samples(self, resolution: int, samples: Any) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("database away")
        await super().insert_samples(resolution, samples)


async def test_a_failed_write_is_tried_again_at_the_next_flush(db: Database) -> None:
    clock = Clock(T0)
    recorder = HistoryRecorder(FailingOnce(db.engine), HistorySettings(), clock)
    recorder.offer("site.load_changed", view(10.0))
    with pytest.raises(ConnectionError):
        await recorder.flush()
    clock.now += 1
    assert await recorder.flush() == 3
    assert [t - T0 for t, _, _ in await raw_rows(db, "circuit", CIRCUIT)] == [1]


async def test_a_site_the_loop_no_longer_runs_ends_at_its_keepalive(db: Database) -> None:
    clock = Clock(T0)
    running: dict[str, Any] = {str(SITE): view(10.0)}
    recorder = HistoryRecorder(
        SqlHistoryStore(db.engine), HistorySettings(), clock, current_view=running.get
    )
    recorder.offer("site.load_changed", view(10.0))
    await recorder.flush()
    clock.now += 60
    assert await recorder.flush() == 3  # still run by the loop: a keepalive
    del running[str(SITE)]  # the site was deleted
    clock.now += 60
    assert await recorder.flush() == 3  # its series end
    assert (await raw_rows(db, "site", SITE))[-1][2] == (None,) * 12
    clock.now += 60
    assert await recorder.flush() == 0
