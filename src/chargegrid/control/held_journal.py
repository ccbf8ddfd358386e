"""The apply engine's bookings on the database (cluster mode), for the node that takes a
site over: ``control.held``'s port on ``store.held_limits``.

Write-ahead records are durable before the call they cover goes out; bookings after an
answer are gathered and written every ``flush_s`` in one statement. One lock orders the
writes, and each key's newest record wins, so a late background write never puts back
an older value over a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.control.apply import EvseKey
from chargegrid.control.held import HeldRecord
from chargegrid.control.profiles import Limit
from chargegrid.store import held_limits
from chargegrid.store.held_limits import HeldRow
from chargegrid.store.types import utcnow

log = logging.getLogger(__name__)


class SqlHeldJournal:
    def __init__(self, engine: AsyncEngine, flush_s: float = 0.5) -> None:
        self._engine = engine
        self.flush_s = flush_s
        self._dirty: dict[EvseKey, HeldRecord] = {}
        self._written: dict[EvseKey, HeldRecord] = {}
        # The batch being written: until it commits it is the newest for its keys, so a
        # record equal to what the database already holds is not "unchanged" when this
        # batch is about to overwrite it (a cut's booking in flight under a raise).
        self._inflight: dict[EvseKey, HeldRecord] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self.rows_written = 0

    async def write_ahead(self, records: Sequence[HeldRecord]) -> None:
        """Durable when this returns, also when a batch in flight was writing the keys."""
        self._note(records)
        await self.flush()

    def booked(self, records: Sequence[HeldRecord]) -> None:
        if self._note(records) and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.flush_s, self._flush_later)

    def _note(self, records: Sequence[HeldRecord]) -> bool:
        """Keep what differs from what is written; True when anything does."""
        changed = False
        for record in records:
            key = EvseKey(record.charger_id, record.evse_number)
            if self._inflight.get(key, self._written.get(key)) == record:
                self._dirty.pop(key, None)
                continue
            self._dirty[key] = record
            changed = True
        return changed

    def _flush_later(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._background())

    async def _background(self) -> None:
        try:
            await self.flush()
        except Exception:  # kept dirty: the next booking or flush tries again
            log.exception("could not write held limits")
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.flush_s, self._flush_later)

    async def flush(self) -> None:
        """Write everything noted so far (durable when it returns)."""
        async with self._lock:
            if not self._dirty:
                return
            batch, self._dirty = self._dirty, {}
            self._inflight = batch
            try:
                async with self._engine.begin() as conn:
                    self.rows_written += await held_limits.upsert(
                        conn, [_row(r) for r in batch.values()]
                    )
            except BaseException:
                # Not written: back in, unless something newer came meanwhile.
                self._dirty = batch | self._dirty
                raise
            finally:
                self._inflight = {}
            self._written.update(batch)

    async def load(self, site_id: str) -> list[HeldRecord]:
        """The records of a site's chargers (what its previous owner booked last)."""
        async with self._engine.connect() as conn:
            rows = await held_limits.of_site(conn, uuid.UUID(site_id))
        records = [_record(r) for r in rows]
        for record in records:
            self._written[EvseKey(record.charger_id, record.evse_number)] = record
        return records

    def forget(self, charger_ids: set[str]) -> None:
        """Another node books for these now: what we wrote is no longer the newest."""
        self._written = {k: v for k, v in self._written.items() if k.charger_id not in charger_ids}

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        await self.flush()


def _row(r: HeldRecord) -> HeldRow:
    return HeldRow(
        charger_id=uuid.UUID(r.charger_id),
        evse_number=r.evse_number,
        live_amps=r.live.amps if r.live is not None else None,
        live_phases=r.live.phases if r.live is not None else None,
        live_tx=r.live_tx,
        live_until=r.live_until,
        failsafe_amps=r.failsafe.amps if r.failsafe is not None else None,
        failsafe_phases=r.failsafe.phases if r.failsafe is not None else None,
        uncertain_until=r.uncertain_until,
        updated_at=utcnow(),
    )


def _record(r: HeldRow) -> HeldRecord:
    live = Limit(r.live_amps, r.live_phases or 3) if r.live_amps is not None else None
    failsafe = (
        Limit(r.failsafe_amps, r.failsafe_phases or 3) if r.failsafe_amps is not None else None
    )
    return HeldRecord(
        str(r.charger_id),
        r.evse_number,
        live,
        r.live_tx,
        r.live_until,
        failsafe,
        r.uncertain_until,
    )
