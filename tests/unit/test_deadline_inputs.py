"""DeadlineInputs (services/deadlines.py) on a real SQLite database: the history cache is
dropped when a session completes, and a fill at the start never overwrites the car's
needs that landed meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from chargegrid import events as ev
from chargegrid.domain.dwell_prediction import PastSession
from chargegrid.services.deadlines import DeadlineInputs, HistoryCache
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'deadlines.db'}")
    await upgrade(database.engine)
    yield database
    await database.dispose()


async def _charger(db: Database) -> uuid.UUID:
    async with db.session() as s:
        site = m.Site(name="S", max_current=63, timezone="UTC")
        s.add(site)
        await s.flush()
        charger = m.Charger(site_id=site.id, ocpp_id=f"CP-{uuid.uuid4().hex[:6]}")
        s.add(charger)
        await s.flush()
        return charger.id


async def _session(
    db: Database, charger: uuid.UUID, started: datetime, hours: float | None, kwh: float = 10
) -> uuid.UUID:
    async with db.session() as s:
        row = m.ChargingSession(
            charger_id=charger,
            evse_number=1,
            connector_id=1,
            id_tag="DRIVER",
            started_at=started,
            stopped_at=started + timedelta(hours=hours) if hours is not None else None,
            energy_wh=kwh * 1000,
        )
        s.add(row)
        await s.flush()
        return row.id


async def test_a_completed_session_reaches_the_next_prediction(db: Database) -> None:
    charger = await _charger(db)
    for week in range(1, 4):
        await _session(db, charger, NOW - timedelta(weeks=week), 4.0)
    inputs = DeadlineInputs(db)
    first = await _session(db, charger, NOW, None)
    filled = await inputs.fill(first)
    assert filled is not None and filled["departure_source"] == "predicted"
    assert filled["departure_at"] == (NOW + timedelta(hours=4)).isoformat()
    assert len(inputs.tags) == 1 and len(inputs.sites) == 1

    # Four more weeks of 10-hour days, one completing now: the median moves to 10 h.
    for week in (4, 5, 6):
        await _session(db, charger, NOW - timedelta(weeks=week), 10.0)
    done = await _session(db, charger, NOW - timedelta(weeks=7), 10.0)
    second = await _session(db, charger, NOW + timedelta(minutes=1), None)
    stale = await inputs.fill(second)
    assert stale is not None  # from the cache: the new sessions are not seen yet
    assert stale["departure_at"] == (NOW + timedelta(minutes=1, hours=4)).isoformat()
    await inputs.handle(ev.SESSION_STOPPED, {"session_id": str(done)})
    assert len(inputs.tags) == 0 and len(inputs.sites) == 0
    third = await _session(db, charger, NOW + timedelta(minutes=2), None)
    fresh = await inputs.fill(third)
    assert fresh is not None
    assert fresh["departure_at"] == (NOW + timedelta(minutes=2, hours=10)).isoformat()


async def test_the_cars_needs_landing_meanwhile_stand(db: Database) -> None:
    charger = await _charger(db)
    for week in range(1, 4):
        await _session(db, charger, NOW - timedelta(weeks=week), 4.0)
    session_id = await _session(db, charger, NOW, None)
    inputs = DeadlineInputs(db)
    theirs = NOW + timedelta(hours=2)
    real = inputs.resolved

    async def racing(*args: object, **kw: object) -> object:
        answer = await real(*args, **kw)  # type: ignore[arg-type]
        # NotifyEVChargingNeeds is stored while the prediction is made.
        async with db.engine.begin() as conn:
            await conn.execute(
                update(m.ChargingSession)
                .where(m.ChargingSession.id == session_id)
                .values(departure_time=theirs, departure_source="charger")
            )
        return answer

    inputs.resolved = racing  # type: ignore[method-assign]
    assert await inputs.fill(session_id) is None
    async with db.session() as s:
        row = await s.get(m.ChargingSession, session_id)
        assert row is not None
        assert (row.departure_time, row.departure_source) == (theirs, "charger")


async def test_a_read_overlapping_an_invalidation_is_not_kept() -> None:
    cache = HistoryCache(2)
    started, release = asyncio.Event(), asyncio.Event()
    old = (PastSession(NOW, 3600.0, 1000.0),)

    async def slow_read() -> tuple[PastSession, ...]:
        started.set()
        await release.wait()
        return old

    reading = asyncio.create_task(cache.get("TAG", slow_read))
    await started.wait()
    cache.forget("TAG")  # a session of TAG completed while it was being read
    release.set()
    assert await reading == old
    assert len(cache) == 0

    async def read() -> tuple[PastSession, ...]:
        return ()

    for key in ("A", "B", "C"):
        await cache.get(key, read)
    assert len(cache) == 2  # bounded: the least recently used went


async def test_a_passed_prediction_is_predicted_again_from_longer_stays(db: Database) -> None:
    charger = await _charger(db)
    started = NOW - timedelta(hours=5)
    for week, hours in ((1, 4.0), (2, 4.0), (3, 4.0), (4, 9.0), (5, 9.0), (6, 9.0)):
        await _session(db, charger, started - timedelta(weeks=week), hours)
    session_id = await _session(db, charger, started, None)
    inputs = DeadlineInputs(db)
    await inputs.fill(session_id)  # as at its start: the median of 4, 4, 4, 9, 9, 9 h
    async with db.engine.begin() as conn:  # as it was predicted then, at arrival
        await conn.execute(
            update(m.ChargingSession)
            .where(m.ChargingSession.id == session_id)
            .values(departure_time=started + timedelta(hours=4))
        )
    (again,) = await inputs.refresh_overdue()
    # Still here after 5 h: only the 9-hour stays are like it.
    assert again["departure_at"] == (started + timedelta(hours=9)).isoformat()
    assert again["departure_source"] == "predicted"
    assert await inputs.refresh_overdue() == []  # in the future now: left alone
