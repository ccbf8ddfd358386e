"""The :class:`ChargerStore` port on the project's SQLAlchemy schema (SQLite, PostgreSQL).

Charger traffic is the hottest write path in the system, so this adapter uses
SQLAlchemy Core on the shared tables rather than the ORM: one transaction per batch
of writes, meter samples inserted with one executemany, and small caches for the ids
that never change (a connector's rows, a transaction's session).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargegrid.services.charger_ports import (
    BootWrite,
    ChargerRecord,
    ConfigWrite,
    IdTagInfo,
    IdTagRecord,
    Metered,
    MeterWrite,
    PresenceWrite,
    Sample,
    Started,
    StartWrite,
    StatusWrite,
    Stopped,
    StopWrite,
    Write,
)
from chargegrid.services.id_tag_policy import id_tag_info
from chargegrid.store.models import (
    Base,
    Charger,
    ChargingSession,
    Connector,
    Evse,
    IdTag,
    MeterValue,
    TransactionId,
)
from chargegrid.store.types import utcnow


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


chargers = _table(Charger)
evses = _table(Evse)
connectors = _table(Connector)
sessions = _table(ChargingSession)
meter_values = _table(MeterValue)
id_tags = _table(IdTag)
transaction_ids = _table(TransactionId)

_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Tx:
    session_id: uuid.UUID
    evse_number: int
    meter_start: float | None


class SqlChargerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._places: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, uuid.UUID]] = {}
        self._txs: dict[tuple[uuid.UUID, int], _Tx] = {}

    async def charger(self, ocpp_id: str) -> ChargerRecord | None:
        query = select(
            chargers.c.id,
            chargers.c.ocpp_id,
            chargers.c.registration_status,
            chargers.c.password_hash,
            chargers.c.meter_value_interval,
            chargers.c.config_sync,
        ).where(chargers.c.ocpp_id == ocpp_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return ChargerRecord(*row) if row is not None else None

    async def register(self, ocpp_id: str) -> ChargerRecord:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(chargers).values(
                        id=uuid.uuid4(), ocpp_id=ocpp_id, registration_status="Pending"
                    )
                )
        except IntegrityError:
            pass  # registered by a concurrent connection a moment ago
        record = await self.charger(ocpp_id)
        assert record is not None
        return record

    async def id_tag(self, id_tag: str) -> IdTagRecord | None:
        query = select(
            id_tags.c.id_tag, id_tags.c.status, id_tags.c.expires_at, id_tags.c.parent_id_tag
        ).where(id_tags.c.id_tag == id_tag)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return IdTagRecord(*row) if row is not None else None

    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        results: list[Any] = [None] * len(writes)
        batch = _Batch()
        async with self.engine.begin() as conn:
            for i, write in enumerate(writes):
                if isinstance(write, MeterWrite):
                    results[i] = await self._meter(conn, write, batch)
                elif isinstance(write, PresenceWrite):
                    batch.presence[write.charger_id] = write
                elif isinstance(write, StatusWrite):
                    await self._status(conn, write)
                elif isinstance(write, StartWrite):
                    results[i] = await self._start(conn, write, batch)
                elif isinstance(write, StopWrite):
                    results[i] = await self._stop(conn, write, batch)
                elif isinstance(write, BootWrite):
                    await self._boot(conn, write)
                elif isinstance(write, ConfigWrite):
                    await self._config(conn, write)
            await batch.flush(conn)
        return results

    # -- meter values -------------------------------------------------------------

    async def _meter(self, conn: AsyncConnection, write: MeterWrite, batch: _Batch) -> Metered:
        tx = None
        if write.transaction_id is not None:
            tx = await self._transaction(conn, write.charger_id, write.transaction_id)
        session_id = tx.session_id if tx else None
        batch.add_samples(write.charger_id, write.connector_id, session_id, write.samples)
        energy = _session_progress(tx, write.samples, batch) if tx is not None else None
        return Metered(session_id, energy)

    async def _transaction(
        self, conn: AsyncConnection, charger_id: uuid.UUID, transaction_id: int
    ) -> _Tx | None:
        """The open session of a transaction; cached, as meter values arrive every few s."""
        tx = self._txs.get((charger_id, transaction_id))
        if tx is not None:
            return tx
        row = (
            await conn.execute(
                select(sessions.c.id, sessions.c.evse_number, sessions.c.meter_start).where(
                    sessions.c.charger_id == charger_id,
                    sessions.c.transaction_id == transaction_id,
                    sessions.c.stopped_at.is_(None),
                )
            )
        ).first()
        if row is None:
            return None
        tx = _Tx(row.id, row.evse_number, row.meter_start)
        self._remember(charger_id, transaction_id, tx)
        return tx

    # -- status, boot, configuration ---------------------------------------------

    async def _status(self, conn: AsyncConnection, w: StatusWrite) -> None:
        fields = {
            "ocpp_status": w.status,
            "error_code": w.error_code,
            "error_info": w.info,
            "vendor_error_code": w.vendor_error_code,
            "updated_at": w.at,
        }
        if w.connector_id == 0:
            await conn.execute(update(chargers).where(chargers.c.id == w.charger_id), fields)
            return
        evse_pk, connector_pk = await self._place(conn, w.charger_id, w.connector_id)
        await conn.execute(update(evses).where(evses.c.id == evse_pk), fields)
        await conn.execute(
            update(connectors).where(connectors.c.id == connector_pk),
            {**fields, "vendor_id": w.vendor_id},
        )

    async def _place(
        self, conn: AsyncConnection, charger_id: uuid.UUID, number: int
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """The EVSE and connector rows of a 1.6 connector id, created on first sight."""
        key = (charger_id, number)
        place = self._places.get(key)
        if place is not None:
            return place
        evse_pk = (
            await conn.execute(
                select(evses.c.id).where(
                    evses.c.charger_id == charger_id, evses.c.evse_number == number
                )
            )
        ).scalar()
        if evse_pk is None:
            evse_pk = uuid.uuid4()
            await conn.execute(
                insert(evses).values(id=evse_pk, charger_id=charger_id, evse_number=number)
            )
        connector_pk = (
            await conn.execute(
                select(connectors.c.id).where(
                    connectors.c.charger_id == charger_id, connectors.c.connector_id == number
                )
            )
        ).scalar()
        if connector_pk is None:
            connector_pk = uuid.uuid4()
            await conn.execute(
                insert(connectors).values(
                    id=connector_pk, evse_id=evse_pk, charger_id=charger_id, connector_id=number
                )
            )
        if len(self._places) > _CACHE_LIMIT:
            self._places.clear()
        self._places[key] = (evse_pk, connector_pk)
        return evse_pk, connector_pk

    async def _boot(self, conn: AsyncConnection, w: BootWrite) -> None:
        await conn.execute(
            update(chargers).where(chargers.c.id == w.charger_id),
            {
                "vendor": w.vendor,
                "model": w.model,
                "serial_number": w.serial_number,
                "firmware_version": w.firmware_version,
                "online": True,
                "last_seen_at": w.at,
                "updated_at": w.at,
            },
        )

    async def _config(self, conn: AsyncConnection, w: ConfigWrite) -> None:
        fields: dict[str, Any] = {}
        if w.config_sync is not None:
            fields["config_sync"] = w.config_sync
        if w.configuration is not None:
            fields["reported_configuration"] = dict(w.configuration)
        if w.connector_phase_rotation is not None:
            fields["connector_phase_rotation"] = w.connector_phase_rotation
        if w.max_stack_level is not None:
            fields["max_stack_level"] = w.max_stack_level
        if w.charging_rate_units is not None:
            fields["charging_rate_units"] = list(w.charging_rate_units)
        if fields:
            await conn.execute(update(chargers).where(chargers.c.id == w.charger_id), fields)

    # -- transactions ---------------------------------------------------------------

    async def _start(self, conn: AsyncConnection, w: StartWrite, batch: _Batch) -> Started:
        same = (
            await conn.execute(
                select(sessions.c.id, sessions.c.transaction_id).where(
                    sessions.c.charger_id == w.charger_id,
                    sessions.c.connector_id == w.connector_id,
                    sessions.c.id_tag == w.id_tag,
                    sessions.c.meter_start == w.meter_start,
                    sessions.c.started_at == w.timestamp,
                )
            )
        ).first()
        tag = await self._tag(conn, w.id_tag)
        if same is not None:
            info = id_tag_info(tag, w.timestamp, unknown_accepted=w.unknown_tags_accepted)
            return Started(same.id, same.transaction_id, info, repeated=True)

        # A connector holds one session: an older open one was never stopped (its
        # StopTransaction was lost), so it ends where the new one begins.
        await conn.execute(
            update(sessions)
            .where(
                sessions.c.charger_id == w.charger_id,
                sessions.c.connector_id == w.connector_id,
                sessions.c.stopped_at.is_(None),
            )
            .values(stopped_at=w.timestamp, stop_reason="Superseded", updated_at=utcnow())
        )
        busy = (
            await conn.execute(
                select(sessions.c.id)
                .where(sessions.c.id_tag == w.id_tag, sessions.c.stopped_at.is_(None))
                .limit(1)
            )
        ).first() is not None
        info = id_tag_info(
            tag, utcnow(), busy_elsewhere=busy, unknown_accepted=w.unknown_tags_accepted
        )
        evse_pk, connector_pk = await self._place(conn, w.charger_id, w.connector_id)
        allocated = await conn.execute(insert(transaction_ids).values(allocated_at=utcnow()))
        assert allocated.inserted_primary_key is not None
        transaction_id = int(allocated.inserted_primary_key[0])
        session_id = uuid.uuid4()
        now = utcnow()
        await conn.execute(
            insert(sessions).values(
                id=session_id,
                charger_id=w.charger_id,
                evse_id=evse_pk,
                connector_pk=connector_pk,
                evse_number=w.connector_id,
                connector_id=w.connector_id,
                transaction_id=transaction_id,
                id_tag=w.id_tag,
                meter_start=w.meter_start,
                energy_wh=0.0,
                started_at=w.timestamp,
                created_at=now,
                updated_at=now,
            )
        )
        self._remember(w.charger_id, transaction_id, _Tx(session_id, w.connector_id, w.meter_start))
        return Started(session_id, transaction_id, info, repeated=False)

    async def _stop(self, conn: AsyncConnection, w: StopWrite, batch: _Batch) -> Stopped:
        row = (
            await conn.execute(
                select(
                    sessions.c.id,
                    sessions.c.connector_id,
                    sessions.c.meter_start,
                    sessions.c.stopped_at,
                    sessions.c.stop_reason,
                    sessions.c.energy_wh,
                ).where(
                    sessions.c.charger_id == w.charger_id,
                    sessions.c.transaction_id == w.transaction_id,
                )
            )
        ).first()
        info = None
        if w.id_tag is not None:
            info = id_tag_info(await self._tag(conn, w.id_tag), w.timestamp)
        if row is None:
            # Unknown transaction (e.g. started while we were down and never reported):
            # acknowledge it so the charger can clear its queue; keep its samples.
            batch.add_samples(w.charger_id, 0, None, w.samples)
            return Stopped(None, None, None, info or IdTagInfo("Accepted"), repeated=False)
        # Stopped before: a repeat after a reconnect gets the same answer. Only a session
        # we closed ourselves (Superseded) still takes the charger's real stop.
        if row.stopped_at is not None and row.stop_reason != "Superseded":
            return Stopped(row.id, row.connector_id, row.energy_wh, info, repeated=True)
        batch.add_samples(w.charger_id, row.connector_id or 0, row.id, w.samples)
        energy = max(0.0, w.meter_stop - (row.meter_start or 0.0))
        batch.session_updates.pop(row.id, None)
        await conn.execute(
            update(sessions)
            .where(sessions.c.id == row.id)
            .values(
                meter_stop=w.meter_stop,
                stopped_at=w.timestamp,
                stop_reason=w.reason or "Local",
                energy_wh=energy,
                updated_at=utcnow(),
            )
        )
        self._txs.pop((w.charger_id, w.transaction_id), None)
        return Stopped(row.id, row.connector_id, energy, info, repeated=False)

    async def _tag(self, conn: AsyncConnection, id_tag: str) -> IdTagRecord | None:
        row = (
            await conn.execute(
                select(
                    id_tags.c.id_tag,
                    id_tags.c.status,
                    id_tags.c.expires_at,
                    id_tags.c.parent_id_tag,
                ).where(id_tags.c.id_tag == id_tag)
            )
        ).first()
        return IdTagRecord(*row) if row is not None else None

    def _remember(self, charger_id: uuid.UUID, transaction_id: int, tx: _Tx) -> None:
        if len(self._txs) > _CACHE_LIMIT:
            self._txs.clear()
        self._txs[(charger_id, transaction_id)] = tx


def _session_progress(tx: _Tx, samples: Sequence[Sample], batch: _Batch) -> float | None:
    """Energy so far (register minus meterStart) and SoC, queued as a session update."""
    register = soc = None
    latest = None
    for s in samples:
        if latest is None or s.timestamp >= latest:
            latest = s.timestamp
        if s.measurand == "Energy.Active.Import.Register" and s.phase is None:
            register = s.value
        elif s.measurand == "SoC":
            soc = s.value
    update_fields = batch.session_updates.setdefault(tx.session_id, {})
    energy = None
    if register is not None:
        energy = max(0.0, register - (tx.meter_start or 0.0))
        update_fields["energy_wh"] = energy
    if soc is not None:
        update_fields["soc"] = soc
    return energy


class _Batch:
    """Row-level work gathered over one group commit and written with executemany."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self.presence: dict[uuid.UUID, PresenceWrite] = {}
        self.session_updates: dict[uuid.UUID, dict[str, Any]] = {}

    def add_samples(
        self,
        charger_id: uuid.UUID,
        evse_number: int,
        session_id: uuid.UUID | None,
        samples: Sequence[Sample],
    ) -> None:
        for s in samples:
            self.samples.append(
                {
                    "session_id": session_id,
                    "charger_id": charger_id,
                    "evse_number": evse_number,
                    "timestamp": s.timestamp,
                    "measurand": s.measurand,
                    "phase": s.phase,
                    "unit": s.unit,
                    "value": s.value,
                    "context": s.context,
                    "location": s.location,
                }
            )

    async def flush(self, conn: AsyncConnection) -> None:
        if self.samples:
            await conn.execute(insert(meter_values), self.samples)
        if self.session_updates:
            now = utcnow()
            await conn.execute(
                update(sessions)
                .where(sessions.c.id == bindparam("b_id"))
                .values(
                    energy_wh=func.coalesce(bindparam("b_energy"), sessions.c.energy_wh),
                    soc=func.coalesce(bindparam("b_soc"), sessions.c.soc),
                    updated_at=bindparam("b_now"),
                ),
                [
                    {
                        "b_id": session_id,
                        "b_energy": fields.get("energy_wh"),
                        "b_soc": fields.get("soc"),
                        "b_now": now,
                    }
                    for session_id, fields in self.session_updates.items()
                ],
            )
        if self.presence:
            rows = [
                {"b_id": p.charger_id, "online": p.online, "last_seen_at": p.at}
                for p in self.presence.values()
            ]
            await conn.execute(
                update(chargers)
                .where(chargers.c.id == bindparam("b_id"))
                .values(online=bindparam("online"), last_seen_at=bindparam("last_seen_at")),
                rows,
            )
            versions = [p for p in self.presence.values() if p.ocpp_version is not None]
            for p in versions:
                await conn.execute(
                    update(chargers)
                    .where(chargers.c.id == p.charger_id)
                    .values(ocpp_version=p.ocpp_version)
                )
