"""``reload_chargers``: a charger's own event re-reads that charger only (a reconnect
storm sends one per charger: re-reading the whole site for each was quadratic), and
hands the decision back to a full read whenever a partial one could be wrong."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from chargegrid.control.snapshot import SiteSnapshot, load_site, reload_chargers
from chargegrid.store import models as m
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'partial.db'}")
    await upgrade(database.engine)
    yield database
    await database.dispose()


async def two_chargers(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    site, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with db.session() as s:
        s.add(m.Site(id=site, name="S", max_current=32.0))
        await s.flush()
        for charger, name in ((a, "A"), (b, "B")):
            s.add(m.Charger(id=charger, site_id=site, ocpp_id=name, max_charge_current=16.0))
        await s.commit()
    return site, a, b


async def set_max(db: Database, charger: uuid.UUID, amps: float, **more: object) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            update(m.Charger.__table__)
            .where(m.Charger.__table__.c.id == charger)
            .values(max_charge_current=amps, **more)
        )


def max_of(snapshot: SiteSnapshot, charger: uuid.UUID) -> float | None:
    spec = snapshot.charger(str(charger))
    assert spec is not None
    return spec.max_charge_current


async def test_only_the_named_charger_is_read_again(db: Database) -> None:
    site, a, b = await two_chargers(db)
    async with db.session() as s:
        snapshot = await load_site(s, site)
    assert snapshot is not None
    await set_max(db, a, 10.0)
    await set_max(db, b, 8.0)
    async with db.session() as s:
        partly = await reload_chargers(s, snapshot, [str(a)])
    assert partly is not None
    assert max_of(partly, a) == 10.0
    assert max_of(partly, b) == 16.0  # not re-read: its own event would say so
    assert [c.id for c in partly.chargers] == [c.id for c in snapshot.chargers]


async def test_a_charger_that_left_the_site_or_is_unknown_asks_for_a_full_read(
    db: Database,
) -> None:
    site, a, _ = await two_chargers(db)
    async with db.session() as s:
        snapshot = await load_site(s, site)
        assert snapshot is not None
        assert await reload_chargers(s, snapshot, [str(uuid.uuid4())]) is None
    other = uuid.uuid4()
    async with db.session() as s:
        s.add(m.Site(id=other, name="T", max_current=16.0))
        await s.commit()
    await set_max(db, a, 10.0, site_id=other)
    async with db.session() as s:
        assert await reload_chargers(s, snapshot, [str(a)]) is None
