"""A real central system on 127.0.0.1 (ephemeral port) over a throw-away SQLite file."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from chargegrid.bus.memory import EventBus
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.services.auth import hash_password
from chargegrid.store import models as m
from chargegrid.store.charger_store import SqlChargerStore, chargers, id_tags
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

pytestmark = pytest.mark.e2e


@dataclass
class Csms:
    db: Database
    central: OcppCentralSystem
    bus: EventBus
    port: int

    def url(self, ocpp_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{ocpp_id}"

    async def add_charger(self, ocpp_id: str, password: str | None = None, **fields: Any) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(chargers).values(
                    id=uuid.uuid4(),
                    ocpp_id=ocpp_id,
                    password_hash=hash_password(password) if password else None,
                    **fields,
                )
            )

    async def add_id_tag(self, id_tag: str, status: str = "Accepted", **fields: Any) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(id_tags).values(id=uuid.uuid4(), id_tag=id_tag, status=status, **fields)
            )

    async def rows(self, query: Any) -> list[Any]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def charger_row(self, ocpp_id: str) -> Any:
        (row,) = await self.rows(select(chargers).where(chargers.c.ocpp_id == ocpp_id))
        return row


async def add_wired_charger(
    session: Any,
    site_id: uuid.UUID,
    ocpp_id: str,
    circuit_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A 3-phase charger (RST, 32 A) with one EVSE and connector, in an open ORM session."""
    charger_id = uuid.uuid4()
    session.add(
        m.Charger(
            id=charger_id,
            site_id=site_id,
            circuit_id=circuit_id,
            ocpp_id=ocpp_id,
            max_charge_phases=3,
        )
    )
    await session.flush()
    evse = m.Evse(charger_id=charger_id, evse_number=1)
    session.add(evse)
    await session.flush()
    session.add(
        m.Connector(
            evse_id=evse.id,
            charger_id=charger_id,
            connector_id=1,
            power_type="AC_3_PHASE",
            phase_rotation="RST",
            max_amperage=32,
        )
    )
    return charger_id


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 10.0,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
    what: str = "condition",
) -> None:
    """Poll ``check`` until it holds or ``timeout`` passes (then fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def start_csms(tmp_path: Path, url: str | None = None, **options: Any) -> Csms:
    """A central system on ``url`` (already migrated), or on a new SQLite file."""
    if url is None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}")
        await upgrade(db.engine)
    else:
        db = Database(url)
    bus = EventBus()
    central = OcppCentralSystem(SqlChargerStore(db.engine), bus, heartbeat_interval=60, **options)
    port = await central.start("127.0.0.1", 0)
    return Csms(db, central, bus, port)


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    server = await start_csms(tmp_path)
    try:
        yield server
    finally:
        await server.central.stop()
        await server.db.dispose()


@pytest.fixture
async def csms_on_each_db(tmp_path: Path, database_url: str) -> AsyncIterator[Csms]:
    """The same, once on SQLite and once on PostgreSQL (``tests/conftest.py``)."""
    server = await start_csms(tmp_path, database_url)
    try:
        yield server
    finally:
        await server.central.stop()
        await server.db.dispose()
