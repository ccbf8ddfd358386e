"""A raise noted while a cut's booking is being written must be written after it: the
database must never hold less than what a charger was just told it may draw (CI caught
a frame of 32 A going out over a stored 10 A about 1 run in 10)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from chargegrid.control import held_journal
from chargegrid.control.held import HeldRecord
from chargegrid.control.held_journal import SqlHeldJournal
from chargegrid.control.profiles import Limit
from chargegrid.store.held_limits import HeldRow


class SlowDatabase:
    """Holds what was upserted; a write waits for ``gate`` when one is set."""

    def __init__(self) -> None:
        self.live: dict[tuple[str, int], float | None] = {}
        self.gate: asyncio.Event | None = None
        self.writing = asyncio.Event()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield None

    async def upsert(self, _conn: Any, rows: Iterable[HeldRow]) -> int:
        rows = list(rows)
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        for row in rows:
            self.live[(str(row.charger_id), row.evse_number)] = row.live_amps
        return len(rows)


def record(amps: float) -> HeldRecord:
    return HeldRecord(
        "00000000-0000-0000-0000-000000000001", 1, Limit(amps, 3), None, None, None, None
    )


async def test_a_raise_over_a_cut_in_flight_is_durable_before_write_ahead_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = SlowDatabase()
    monkeypatch.setattr(held_journal.held_limits, "upsert", db.upsert)
    journal = SqlHeldJournal(db, flush_s=0.0)  # type: ignore[arg-type]
    key = ("00000000-0000-0000-0000-000000000001", 1)
    await journal.write_ahead([record(32.0)])  # first limits: 32 A
    assert db.live[key] == 32.0
    db.gate = asyncio.Event()
    db.writing.clear()
    journal.booked([record(10.0)])  # a cut answered: written in the background
    await asyncio.wait_for(db.writing.wait(), 1.0)  # ... and that write is in flight
    raising = asyncio.ensure_future(journal.write_ahead([record(32.0)]))  # raised again
    await asyncio.sleep(0.01)
    assert not raising.done()  # not durable while the cut's write may still land over it
    db.gate.set()
    await asyncio.wait_for(raising, 1.0)
    assert db.live[key] == 32.0  # what the charger may now draw, not the cut's 10 A
    await journal.close()
