"""The :class:`ChargerStore` port on the project's SQLAlchemy schema (SQLite, PostgreSQL).

Charger traffic is the hottest write path in the system, so this adapter uses
SQLAlchemy Core on the shared tables rather than the ORM: one transaction per batch
of writes, one ``meter_value_messages`` row per MeterValues message inserted with one
executemany, and small caches for the ids that never change (a connector's rows, a
transaction's session).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Dialect,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.domain.connectors import PowerType, WiringSource, parse_connector_phase_rotation
from chargegrid.services.charger_ports import (
    ACCEPTED,
    CONNECTOR_AVAILABLE,
    NOT_RESUMED,
    SERVER_STOP_REASONS,
    SUPERSEDED,
    TIMED_OUT,
    Booted,
    BootWrite,
    ChargerGone,
    ChargerRecord,
    Closed,
    ConfigWrite,
    EvNeedsWrite,
    ExternalLimitWrite,
    IdTagInfo,
    IdTagRecord,
    Metered,
    MeterWrite,
    NoticeWrite,
    PresenceWrite,
    Sample,
    Started,
    StartWrite,
    StatusWrite,
    Stopped,
    StopWrite,
    SweepWrite,
    TxEventWrite,
    VariablesWrite,
    Write,
)
from chargegrid.services.id_tag_policy import id_tag_info
from chargegrid.store.batched_lookup import BatchedLookup
from chargegrid.store.db import SQLITE_PRAGMAS
from chargegrid.store.meter_messages import (
    DriverStatements,
    encode_samples,
    message_digest,
    row_chunks,
)
from chargegrid.store.models import (
    Charger,
    ChargingSession,
    Connector,
    Evse,
    IdTag,
    TransactionId,
    table_of,
)
from chargegrid.store.ocpp_tables import charger_notices, charger_variables
from chargegrid.store.session_queries import OPEN_SESSIONS, TAG_BUSY
from chargegrid.store.tx_events import (
    KnownTx,
    TxEvents,
    TxKey,
    apply_ev_needs,
    apply_external_limit,
    apply_variables,
)
from chargegrid.store.types import utcnow
from chargegrid.store.wal_sync import WalSync

log = logging.getLogger(__name__)


chargers = table_of(Charger)
# What a ChargerRecord holds, in its field order.
RECORD_COLUMNS = (
    chargers.c.id,
    chargers.c.ocpp_id,
    chargers.c.registration_status,
    chargers.c.password_hash,
    chargers.c.meter_value_interval,
    chargers.c.config_sync,
    chargers.c.ocpp_version_pin,
    chargers.c.security_profile,
)
evses = table_of(Evse)
connectors = table_of(Connector)
sessions = table_of(ChargingSession)
id_tags = table_of(IdTag)
transaction_ids = table_of(TransactionId)


# Built once: SQLAlchemy then reuses their compiled form instead of rebuilding the
# expression on every StartTransaction (~150 µs a statement saved).
_SAME_START = select(
    sessions.c.id, sessions.c.transaction_id, sessions.c.authorization_status
).where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.connector_id == bindparam("b_connector"),
    sessions.c.id_tag == bindparam("b_tag"),
    sessions.c.meter_start == bindparam("b_meter"),
    sessions.c.started_at == bindparam("b_at"),
)
_RESUMED = (
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"), sessions.c.rebooted_at.is_not(None))
    .values(rebooted_at=None)
)
# The open sessions of one connector: what a new start supersedes, what a status closes.
_OPEN_ON_CONNECTOR = OPEN_SESSIONS.where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.connector_id == bindparam("b_connector"),
)
# Statuses in which a 1.6 connector has no transaction, and in which it has one.
# A StatusNotification and a BootNotification, every charger on every (re)connection:
# built once too (a reconnect storm writes tens of thousands of them).
_STATUS_OF_CHARGER = update(chargers).where(chargers.c.id == bindparam("b_id"))
_STATUS_OF_EVSE = update(evses).where(evses.c.id == bindparam("b_id"))
_STATUS_OF_CONNECTOR = update(connectors).where(connectors.c.id == bindparam("b_id"))
_BOOT_MARKS_REBOOTED = (
    update(sessions)
    .where(
        sessions.c.charger_id == bindparam("b_charger"),
        sessions.c.stopped_at.is_(None),
        sessions.c.authorization_status == ACCEPTED,
        sessions.c.rebooted_at.is_(None),
    )
    .values(rebooted_at=bindparam("b_at"))
)
_BOOT_REFUSED = OPEN_SESSIONS.where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.authorization_status != ACCEPTED,
)
_BOOT_CHARGER = (
    update(chargers)
    .where(chargers.c.id == bindparam("b_id"))
    .values(online=True)
    .returning(*RECORD_COLUMNS)
)
_SAYS_NO_TRANSACTION = frozenset({"Available", "Preparing", "Finishing"})
_SAYS_TRANSACTION = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
# Guarded by stopped_at IS NULL: the charger's own StopTransaction, an operator's end
# or another node's sweep may have closed it first, and theirs stands.
_CLOSE = (
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"), sessions.c.stopped_at.is_(None))
    .values(
        stopped_at=bindparam("b_at"),
        stop_reason=bindparam("b_reason"),
        updated_at=bindparam("b_now"),
    )
)
_NEW_TRANSACTION_ID = insert(transaction_ids)
_NEW_SESSION = insert(sessions)
_FIND_TRANSACTION = select(
    sessions.c.id,
    sessions.c.connector_id,
    sessions.c.meter_start,
    sessions.c.stopped_at,
    sessions.c.stop_reason,
    sessions.c.energy_wh,
    sessions.c.authorization_status,
).where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.transaction_id == bindparam("b_tx"),
)
_STOP_SESSION = (
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"))
    .values(
        meter_stop=bindparam("b_meter"),
        stopped_at=bindparam("b_at"),
        stop_reason=bindparam("b_reason"),
        energy_wh=bindparam("b_energy"),
        updated_at=bindparam("b_now"),
    )
)
# A tag with a site is valid at that site's chargers only: found with the site of the
# charger it is shown at (one statement; ``scoped``).
_FIND_TAG = select(
    id_tags.c.id_tag,
    id_tags.c.status,
    id_tags.c.expires_at,
    id_tags.c.parent_id_tag,
    id_tags.c.site_id,
    select(chargers.c.site_id)
    .where(chargers.c.id == bindparam("b_charger"))
    .scalar_subquery()
    .label("charger_site"),
).where(id_tags.c.id_tag == bindparam("b_tag"))


def scoped(tag: IdTagRecord | None, charger_site: uuid.UUID | None) -> IdTagRecord | None:
    """``tag`` as a charger of ``charger_site`` sees it: a tag of another site (or
    shown at an unplaced charger) is Invalid there; a global tag (no site) is itself."""
    if tag is None or tag.site_id is None or tag.site_id == charger_site:
        return tag
    return IdTagRecord(tag.id_tag, "Invalid", None, None, tag.site_id)


# The chargers of a batch that still exist. On PostgreSQL their rows are locked
# against deletion (FOR KEY SHARE) until the batch commits: a charger deleted through
# the API meanwhile is deleted after it, with what it wrote, never in between.
_EXISTING = select(chargers.c.id).where(chargers.c.id.in_(bindparam("b_ids", expanding=True)))
_EXISTING_LOCKED = _EXISTING.with_for_update(read=True, key_share=True)
# Bound parameters in one IN list (SQLite before 3.32 allowed 999 in a statement).
_IDS_PER_QUERY = 500

_CACHE_LIMIT = 100_000


def _sqlite_twin(engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file, for the writer thread."""
    url = engine.url.set(drivername="sqlite+pysqlite")
    twin = create_engine(url, pool_size=1, max_overflow=0)

    @event.listens_for(twin, "connect")
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        # The write path never checkpoints (a checkpoint copies and fsyncs the database
        # file and stalled group commits for up to a second); checkpoint() does it on
        # its own thread and connection, concurrently with the writer.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        # COMMIT writes the WAL without flushing it; WalSync flushes it on its own
        # thread before any answer goes out (wal_sync.py says why this is as durable).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return twin


# Beyond this many WAL frames (4 KiB pages), the writer finishes a checkpoint itself so
# that the WAL starts over (see SqlChargerStore.checkpoint).
WAL_RESTART_FRAMES = 4096


def _checkpoint(path: str) -> tuple[int, int]:
    """A passive checkpoint; (frames in the WAL, frames copied into the database)."""
    connection = sqlite3.connect(path, timeout=10)
    try:
        _busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames), int(copied)
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class _Tx:
    session_id: uuid.UUID
    evse_number: int
    meter_start: float | None


class SqlChargerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync_engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._wal_sync: WalSync | None = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            assert database is not None
            self._sync_engine = _sqlite_twin(engine)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="ocpp-writer")
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="ocpp-checkpoint")
            self._wal_sync = WalSync(database)
        self._finish_checkpoint = False
        self._places: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, uuid.UUID]] = {}
        self._txs: dict[tuple[uuid.UUID, int], _Tx] = {}
        self._txs_201: dict[TxKey, KnownTx] = {}
        self._tx_events = TxEvents(self._place, self._tag, self._close, self._txs_201)
        self._bound: DriverStatements | None = None
        self._by_ocpp_id = BatchedLookup(self._chargers)

    async def close(self) -> None:
        await self._by_ocpp_id.close()
        if self._sync_engine is not None and self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._sync_engine.dispose
            )
            self._executor.shutdown()
        if self._checkpointer is not None:
            self._checkpointer.shutdown()
        if self._wal_sync is not None:
            self._wal_sync.close()

    async def checkpoint(self) -> None:
        """SQLite: move the WAL into the database file without blocking the writer.

        Under constant writes a passive checkpoint never catches up with the last
        frames, and SQLite starts the WAL over only after one has: the file grew by
        gigabytes and every page lookup searched a longer WAL index. So once the WAL is
        long, the writer itself copies the few frames written since this checkpoint
        (``_apply_in_thread``), and its next commit starts the WAL from the beginning."""
        if self._checkpointer is None or self.engine.url.database is None:
            return
        path = self.engine.url.database
        loop = asyncio.get_running_loop()
        frames, _copied = await loop.run_in_executor(self._checkpointer, _checkpoint, path)
        if frames >= WAL_RESTART_FRAMES:
            self._finish_checkpoint = True

    def _statements(self, dialect: Dialect) -> DriverStatements:
        if self._bound is None:
            self._bound = DriverStatements(dialect)
        return self._bound

    async def charger(self, ocpp_id: str) -> ChargerRecord | None:
        """Handshakes that arrive together share one query (store/batched_lookup.py)."""
        return await self._by_ocpp_id.get(ocpp_id)

    async def _chargers(self, ocpp_ids: Sequence[str]) -> dict[str, ChargerRecord]:
        query = select(*RECORD_COLUMNS).where(chargers.c.ocpp_id.in_(ocpp_ids))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.ocpp_id: ChargerRecord(*row) for row in rows}

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

    async def forget_presence(self) -> int:
        """Mark every charger offline; the number that were online. At start-up: this
        process holds no socket yet, and a crash left the last ones marked online (their
        sessions would then look alive and keep their tags busy)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(chargers).where(chargers.c.online.is_(True)).values(online=False)
            )
        return int(result.rowcount or 0)

    async def ocpp_id_of(self, charger_id: uuid.UUID) -> str | None:
        async with self.engine.connect() as conn:
            query = select(chargers.c.ocpp_id).where(chargers.c.id == charger_id)
            return (await conn.execute(query)).scalar()

    async def evse_availability(self, evse_id: uuid.UUID) -> tuple[str, int, bool] | None:
        query = (
            select(chargers.c.ocpp_id, evses.c.evse_number, evses.c.enabled)
            .join(evses, evses.c.charger_id == chargers.c.id)
            .where(evses.c.id == evse_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.ocpp_id, row.evse_number, bool(row.enabled)) if row is not None else None

    async def variable(
        self, ocpp_id: str, component: str, variable: str, instance: str = ""
    ) -> str | None:
        v = charger_variables.c
        query = (
            select(v.value)
            .join(chargers, chargers.c.id == v.charger_id)
            .where(
                chargers.c.ocpp_id == ocpp_id,
                v.component == component,
                v.component_instance == "",
                v.evse_id == 0,
                v.variable == variable,
                v.variable_instance == instance,
                v.attribute_type == "Actual",
            )
        )
        async with self.engine.connect() as conn:
            value: str | None = (await conn.execute(query)).scalar()
        return value

    async def stage_password_hash(self, ocpp_id: str, password_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(chargers)
                .where(chargers.c.ocpp_id == ocpp_id)
                .values(pending_password_hash=password_hash, updated_at=utcnow())
            )

    async def site_of(self, charger_id: uuid.UUID) -> uuid.UUID | None:
        async with self.engine.connect() as conn:
            query = select(chargers.c.site_id).where(chargers.c.id == charger_id)
            site_id: uuid.UUID | None = (await conn.execute(query)).scalar()
        return site_id

    async def id_tag(self, id_tag: str) -> IdTagRecord | None:
        """The tag's record, with its site (``scoped`` decides where it is valid)."""
        query = select(
            id_tags.c.id_tag,
            id_tags.c.status,
            id_tags.c.expires_at,
            id_tags.c.parent_id_tag,
            id_tags.c.site_id,
        ).where(id_tags.c.id_tag == id_tag)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return IdTagRecord(*row) if row is not None else None

    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        if self._sync_engine is not None:
            # SQLite: the whole batch in one hop to the writer thread (aiosqlite would
            # make one event-loop round trip per statement, each behind every socket).
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(self._executor, self._apply_in_thread, writes)
            if self._wal_sync is not None:
                self._wal_sync.commit_done()
            return results
        try:
            async with self.engine.begin() as conn:
                results, batch = await conn.run_sync(self._apply, writes)
        except BaseException:
            self._forget(writes)
            raise
        self._learn(batch)
        return results

    async def durable(self) -> None:
        if self._wal_sync is not None:
            await self._wal_sync.durable()

    def _apply_in_thread(self, writes: Sequence[Write]) -> list[Any]:
        assert self._sync_engine is not None
        try:
            with self._sync_engine.connect() as conn:
                if self._finish_checkpoint:
                    self._finish_checkpoint = False
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                    conn.commit()
                with conn.begin():
                    results, batch = self._apply(conn, writes)
        except BaseException:
            self._forget(writes)
            raise
        self._learn(batch)
        return results

    def _learn(self, batch: _Batch) -> None:
        """Cache the ids a batch found or created, once its transaction has committed: a
        rolled-back batch must not leave ids in the cache that the database never kept
        (SQLite would even hand the same transaction id out again)."""
        if batch.places:
            if len(self._places) + len(batch.places) > _CACHE_LIMIT:
                self._places.clear()
            self._places.update(batch.places)
        if batch.txs:
            if len(self._txs) + len(batch.txs) > _CACHE_LIMIT:
                self._txs.clear()
            self._txs.update(batch.txs)
        if batch.txs_201:
            if len(self._txs_201) + len(batch.txs_201) > _CACHE_LIMIT:
                self._txs_201.clear()
            self._txs_201.update(batch.txs_201)

    def _forget(self, writes: Sequence[Write]) -> None:
        """After a batch failed: drop every cached id of its chargers. The batch cached
        nothing itself (``_learn`` runs after a commit only), but it may have failed on
        an id cached earlier whose row another transaction deleted since (an EVSE or a
        charger deleted through the API): the next attempt reads the database."""
        gone = {w.charger_id for w in writes if not isinstance(w, SweepWrite)}
        if not gone:
            return
        for place in [k for k in self._places if k[0] in gone]:
            del self._places[place]
        for tx in [k for k in self._txs if k[0] in gone]:
            del self._txs[tx]
        for tx_201 in [k for k in self._txs_201 if k[0] in gone]:
            del self._txs_201[tx_201]

    def _existing(self, conn: Connection, writes: Sequence[Write]) -> set[uuid.UUID]:
        """The batch's chargers whose row exists (and, on PostgreSQL, stays until the
        batch commits)."""
        ids = list({w.charger_id for w in writes if not isinstance(w, SweepWrite)})
        query = _EXISTING_LOCKED if conn.dialect.name == "postgresql" else _EXISTING
        found: set[uuid.UUID] = set()
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            found.update(conn.execute(query, {"b_ids": chunk}).scalars())
        return found

    def _apply(self, conn: Connection, writes: Sequence[Write]) -> tuple[list[Any], _Batch]:
        results: list[Any] = [None] * len(writes)
        batch = _Batch(self._statements(conn.dialect))
        existing = self._existing(conn, writes)
        for i, write in enumerate(writes):
            if not isinstance(write, SweepWrite) and write.charger_id not in existing:
                # Deleted while connected: refused (the caller answers a CallError),
                # not applied, so that its rows cannot fail the others' batch.
                results[i] = ChargerGone(write.charger_id)
                continue
            if isinstance(write, MeterWrite):
                results[i] = self._meter(conn, write, batch)
            elif isinstance(write, PresenceWrite):
                batch.presence[write.charger_id] = write
            elif isinstance(write, StatusWrite):
                results[i] = self._status(conn, write, batch)
            elif isinstance(write, StartWrite):
                results[i] = self._start(conn, write, batch)
            elif isinstance(write, StopWrite):
                results[i] = self._stop(conn, write, batch)
            elif isinstance(write, BootWrite):
                results[i] = self._boot(conn, write)
            elif isinstance(write, SweepWrite):
                results[i] = self._sweep(conn, write)
            elif isinstance(write, ConfigWrite):
                self._config(conn, write)
            elif isinstance(write, TxEventWrite):
                results[i] = self._tx_events.apply(conn, write, batch)
            elif isinstance(write, VariablesWrite):
                results[i] = apply_variables(conn, write)
            elif isinstance(write, EvNeedsWrite):
                results[i] = apply_ev_needs(conn, write)
            elif isinstance(write, ExternalLimitWrite):
                results[i] = apply_external_limit(conn, write)
            elif isinstance(write, NoticeWrite):
                batch.notices.append(
                    {
                        "charger_id": write.charger_id,
                        "action": write.action,
                        "payload": dict(write.payload),
                        "received_at": write.at,
                    }
                )
        batch.flush(conn)
        return results, batch

    # -- meter values -------------------------------------------------------------

    def _meter(self, conn: Connection, write: MeterWrite, batch: _Batch) -> Metered:
        tx = None
        if write.transaction_id is not None:
            tx = self._transaction(conn, write.charger_id, write.transaction_id, batch)
        session_id = tx.session_id if tx else None
        batch.add_samples(
            write.charger_id,
            write.connector_id,
            session_id,
            write.samples,
            repeat_of=(write.transaction_id,),
        )
        energy = _session_progress(tx, write.samples, batch) if tx is not None else None
        return Metered(session_id, energy)

    def _transaction(
        self, conn: Connection, charger_id: uuid.UUID, transaction_id: int, batch: _Batch
    ) -> _Tx | None:
        """The session of a transaction, open or stopped (a charger may send the last
        MeterValues after StopTransaction). Cached, as meter values arrive every few s:
        the cache holds only what never changes for a transaction id, so it cannot go
        stale; whether the session is still open is the database's to say
        (``update_progress`` touches open sessions only)."""
        key = (charger_id, transaction_id)
        tx = self._txs.get(key) or batch.txs.get(key)
        if tx is not None:
            return tx
        row = (
            conn.execute(
                select(sessions.c.id, sessions.c.evse_number, sessions.c.meter_start).where(
                    sessions.c.charger_id == charger_id,
                    sessions.c.transaction_id == transaction_id,
                )
            )
        ).first()
        if row is None:
            return None
        tx = _Tx(row.id, row.evse_number, row.meter_start)
        batch.txs[key] = tx
        return tx

    # -- status, boot, configuration ---------------------------------------------

    def _status(self, conn: Connection, w: StatusWrite, batch: _Batch) -> tuple[Closed, ...]:
        fields = {
            "ocpp_status": w.status,
            "error_code": w.error_code,
            "error_info": w.info,
            "vendor_error_code": w.vendor_error_code,
            "updated_at": w.at,
        }
        if w.connector_id == 0:
            conn.execute(_STATUS_OF_CHARGER, {**fields, "b_id": w.charger_id})
            return ()
        for _attempt in range(2):
            evse_pk, connector_pk = self._place(conn, w.charger_id, w.connector_id, batch)
            conn.execute(_STATUS_OF_EVSE, {**fields, "b_id": evse_pk})
            done = conn.execute(
                _STATUS_OF_CONNECTOR, {**fields, "vendor_id": w.vendor_id, "b_id": connector_pk}
            )
            if done.rowcount == 1:
                break
            # A cached place whose rows were deleted since (an operator deleted the
            # EVSE): forgotten, and found or created again.
            self._unplace(w.charger_id, w.connector_id, batch)
        if w.status not in _SAYS_NO_TRANSACTION and w.status not in _SAYS_TRANSACTION:
            return ()
        return self._connector_says(conn, w)

    def _connector_says(self, conn: Connection, w: StatusWrite) -> tuple[Closed, ...]:
        """What a connector's status tells about its open sessions (docs/ocpp.md):
        Available ends every one; Finishing and Preparing end a refused start and a
        transaction not resumed after a reboot; Charging/SuspendedEV/SuspendedEVSE
        show that a transaction survived the reboot."""
        rows = conn.execute(
            _OPEN_ON_CONNECTOR, {"b_charger": w.charger_id, "b_connector": w.connector_id}
        ).all()
        closed: list[Closed] = []
        for row in rows:
            if w.status in _SAYS_TRANSACTION:
                if row.rebooted_at is not None:
                    conn.execute(_RESUMED, {"b_id": row.id})
                continue
            # A status older than the start (sent late from the charger's queue) says
            # nothing about this session.
            if row.started_at > w.at:
                continue
            refused = row.authorization_status != ACCEPTED
            if w.status != "Available" and not refused and row.rebooted_at is None:
                continue  # Finishing/Preparing beside a running transaction: its stop follows
            # A transaction that did not survive the reboot ended when the charger went down.
            at = row.rebooted_at if row.rebooted_at is not None and not refused else w.at
            reason = CONNECTOR_AVAILABLE if w.status == "Available" else f"Connector{w.status}"
            closed += self._close(conn, [row], w.charger_id, reason, at)
        return tuple(closed)

    def _close(
        self,
        conn: Connection,
        rows: Iterable[Any],
        charger_id: uuid.UUID,
        reason: str,
        at: datetime,
    ) -> list[Closed]:
        """Close open sessions chargegrid decided are over; those another writer closed
        first are left alone and not reported."""
        now = utcnow()
        closed = []
        for row in rows:
            done = conn.execute(
                _CLOSE, {"b_id": row.id, "b_at": at, "b_reason": reason, "b_now": now}
            )
            if done.rowcount == 1:
                closed.append(
                    Closed(
                        row.id,
                        charger_id,
                        row.connector_id,
                        row.transaction_id,
                        reason,
                        at,
                        row.energy_wh,
                        running=row.authorization_status == ACCEPTED,
                    )
                )
        return closed

    def _place(
        self, conn: Connection, charger_id: uuid.UUID, number: int, batch: _Batch
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """The EVSE and connector rows of a 1.6 connector id, created on first sight."""
        key = (charger_id, number)
        place = self._places.get(key) or batch.places.get(key)
        if place is not None:
            return place
        evse_pk = (
            conn.execute(
                select(evses.c.id).where(
                    evses.c.charger_id == charger_id, evses.c.evse_number == number
                )
            )
        ).scalar()
        if evse_pk is None:
            evse_pk = uuid.uuid4()
            conn.execute(
                insert(evses).values(id=evse_pk, charger_id=charger_id, evse_number=number)
            )
        connector_pk = (
            conn.execute(
                select(connectors.c.id).where(
                    connectors.c.charger_id == charger_id, connectors.c.connector_id == number
                )
            )
        ).scalar()
        if connector_pk is None:
            connector_pk = uuid.uuid4()
            conn.execute(
                insert(connectors).values(
                    id=connector_pk,
                    evse_id=evse_pk,
                    charger_id=charger_id,
                    connector_id=number,
                    **self._first_wiring(conn, charger_id, number),
                )
            )
        batch.places[key] = (evse_pk, connector_pk)
        return evse_pk, connector_pk

    def _unplace(self, charger_id: uuid.UUID, number: int, batch: _Batch) -> None:
        self._places.pop((charger_id, number), None)
        batch.places.pop((charger_id, number), None)

    def _first_wiring(self, conn: Connection, charger_id: uuid.UUID, number: int) -> dict[str, Any]:
        """A new connector's wiring: what the charger reported last boot, if it said."""
        reported = conn.execute(
            select(chargers.c.connector_phase_rotation).where(chargers.c.id == charger_id)
        ).scalar()
        wiring = parse_connector_phase_rotation(reported).of(number)
        if wiring is None:
            return {"wiring_source": WiringSource.DEFAULT.value}
        return {
            "power_type": wiring.power_type.value,
            "phase_rotation": str(wiring.rotation),
            "wiring_source": WiringSource.CHARGER.value,
        }

    def _boot(self, conn: Connection, w: BootWrite) -> Booted:
        """A charger that boots has restarted: its open transactions must show they
        survived (``rebooted_at`` until they do); a refused start cannot survive it."""
        conn.execute(_BOOT_MARKS_REBOOTED, {"b_charger": w.charger_id, "b_at": w.at})
        refused = conn.execute(_BOOT_REFUSED, {"b_charger": w.charger_id}).all()
        closed = self._close(conn, refused, w.charger_id, NOT_RESUMED, w.at)
        row = conn.execute(
            _BOOT_CHARGER,
            {
                "b_id": w.charger_id,
                "vendor": w.vendor,
                "model": w.model,
                "serial_number": w.serial_number,
                "firmware_version": w.firmware_version,
                "last_boot_reason": w.reason,
                "last_seen_at": w.at,
                "updated_at": w.at,
            },
        ).first()
        return Booted(tuple(closed), ChargerRecord(*row) if row is not None else None)

    def _sweep(self, conn: Connection, w: SweepWrite) -> tuple[Closed, ...]:
        """Close refused starts past their timeout and transactions not resumed in time
        after a reboot (given twice the charger's meter interval when that is longer:
        a charger that resumed may say so only with its next MeterValues)."""
        closed: list[Closed] = []
        refused_before = w.at - timedelta(seconds=w.refused_timeout_s)
        for row in conn.execute(
            OPEN_SESSIONS.where(
                sessions.c.authorization_status != ACCEPTED,
                sessions.c.created_at < refused_before,
            )
        ).all():
            closed += self._close(conn, [row], row.charger_id, TIMED_OUT, w.at)
        resume_before = w.at - timedelta(seconds=w.resume_timeout_s)
        query = (
            OPEN_SESSIONS.add_columns(chargers.c.meter_value_interval)
            .join(chargers, chargers.c.id == sessions.c.charger_id)
            .where(
                sessions.c.authorization_status == ACCEPTED,
                sessions.c.rebooted_at < resume_before,
            )
        )
        for row in conn.execute(query).all():
            grace = max(w.resume_timeout_s, 2.0 * (row.meter_value_interval or 0))
            if row.rebooted_at + timedelta(seconds=grace) <= w.at:
                closed += self._close(conn, [row], row.charger_id, NOT_RESUMED, row.rebooted_at)
        return tuple(closed)

    def _config(self, conn: Connection, w: ConfigWrite) -> None:
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
        if w.phase_switching is not None:
            fields["phase_switching"] = w.phase_switching
        if fields:
            conn.execute(update(chargers).where(chargers.c.id == w.charger_id), fields)
        if w.connector_phase_rotation is not None:
            self._learn_wiring(conn, w.charger_id, w.connector_phase_rotation)

    def _learn_wiring(self, conn: Connection, charger_id: uuid.UUID, reported: str) -> None:
        """Wire the charger's connectors as it reports, except those an operator set
        (docs/ocpp.md "After each boot"). A report that does not fit an operator's power
        type is an installer's mismatch worth telling; the operator's choice stands."""
        said = parse_connector_phase_rotation(reported)
        rows = conn.execute(
            select(
                connectors.c.id,
                connectors.c.connector_id,
                connectors.c.power_type,
                connectors.c.phase_rotation,
                connectors.c.wiring_source,
            ).where(connectors.c.charger_id == charger_id)
        ).all()
        now = utcnow()
        for row in rows:
            wiring = said.of(row.connector_id)
            if wiring is None:
                continue
            if not WiringSource(row.wiring_source).charger_may_update:
                if PowerType(row.power_type).phase_count != wiring.rotation.phase_count:
                    ocpp_id = conn.execute(
                        select(chargers.c.ocpp_id).where(chargers.c.id == charger_id)
                    ).scalar()
                    log.warning(
                        "charger %s (%s) reports connector %d as %s (%s), set by an operator "
                        "as %s %s: kept the operator's",
                        ocpp_id,
                        charger_id,
                        row.connector_id,
                        wiring.rotation,
                        wiring.power_type.value,
                        row.power_type,
                        row.phase_rotation,
                    )
                continue
            learnt = {
                "power_type": wiring.power_type.value,
                "phase_rotation": str(wiring.rotation),
                "wiring_source": WiringSource.CHARGER.value,
            }
            if {k: getattr(row, k) for k in learnt} != learnt:
                conn.execute(
                    update(connectors).where(connectors.c.id == row.id),
                    {**learnt, "updated_at": now},
                )

    # -- transactions ---------------------------------------------------------------

    def _start(self, conn: Connection, w: StartWrite, batch: _Batch) -> Started:
        key = {
            "b_charger": w.charger_id,
            "b_connector": w.connector_id,
            "b_tag": w.id_tag,
            "b_meter": w.meter_start,
            "b_at": w.timestamp,
        }
        same = conn.execute(_SAME_START, key).first()
        tag = self._tag(conn, w.id_tag, w.charger_id)
        if same is not None:
            # The same answer as the first time (a refusal stays a refusal); a charger
            # that re-sends its start after a reboot has resumed the transaction.
            conn.execute(_RESUMED, {"b_id": same.id})
            info = id_tag_info(tag, w.timestamp, unknown_accepted=w.unknown_tags_accepted)
            if same.authorization_status != info.status:
                info = IdTagInfo(same.authorization_status, info.expiry_date, info.parent_id_tag)
            return Started(same.id, same.transaction_id, info, repeated=True)

        now = utcnow()
        # A connector holds one session: an older open one was never stopped (its
        # StopTransaction was lost), so it ends where the new one begins.
        superseded = self._close(
            conn,
            conn.execute(
                _OPEN_ON_CONNECTOR,
                {"b_charger": w.charger_id, "b_connector": w.connector_id},
            ).all(),
            w.charger_id,
            SUPERSEDED,
            w.timestamp,
        )
        seen_since = now - timedelta(seconds=w.suspect_after_s)
        busy = (
            conn.execute(TAG_BUSY, {"b_tag": w.id_tag, "b_seen_since": seen_since}).first()
            is not None
        )
        info = id_tag_info(tag, now, busy_elsewhere=busy, unknown_accepted=w.unknown_tags_accepted)
        evse_pk, connector_pk = self._place(conn, w.charger_id, w.connector_id, batch)
        allocated = conn.execute(_NEW_TRANSACTION_ID, {"allocated_at": now})
        assert allocated.inserted_primary_key is not None
        transaction_id = int(allocated.inserted_primary_key[0])
        session_id = uuid.uuid4()
        conn.execute(
            _NEW_SESSION,
            {
                "id": session_id,
                "charger_id": w.charger_id,
                "evse_id": evse_pk,
                "connector_pk": connector_pk,
                "evse_number": w.connector_id,
                "connector_id": w.connector_id,
                "transaction_id": transaction_id,
                "id_tag": w.id_tag,
                "meter_start": w.meter_start,
                "energy_wh": 0.0,
                "started_at": w.timestamp,
                "authorization_status": info.status,
                "created_at": now,
                "updated_at": now,
            },
        )
        batch.txs[(w.charger_id, transaction_id)] = _Tx(session_id, w.connector_id, w.meter_start)
        return Started(
            session_id, transaction_id, info, repeated=False, superseded=tuple(superseded)
        )

    def _stop(self, conn: Connection, w: StopWrite, batch: _Batch) -> Stopped:
        row = conn.execute(
            _FIND_TRANSACTION, {"b_charger": w.charger_id, "b_tx": w.transaction_id}
        ).first()
        info = None
        if w.id_tag is not None:
            info = id_tag_info(self._tag(conn, w.id_tag, w.charger_id), w.timestamp)
        if row is None:
            # Unknown transaction (e.g. started while we were down and never reported):
            # acknowledge it so the charger can clear its queue; keep its samples.
            batch.add_samples(w.charger_id, 0, None, w.samples)
            return Stopped(None, None, None, info or IdTagInfo("Accepted"), repeated=False)
        # Stopped before: a repeat after a reconnect gets the same answer. Only a session
        # we closed ourselves (superseded, not resumed, ended by an operator, ...) still
        # takes the charger's real stop: its meter reading, time and reason.
        late = row.stopped_at is not None
        if late and row.stop_reason not in SERVER_STOP_REASONS:
            return Stopped(row.id, row.connector_id, row.energy_wh, info, repeated=True)
        batch.add_samples(w.charger_id, row.connector_id or 0, row.id, w.samples)
        energy = max(0.0, w.meter_stop - (row.meter_start or 0.0))
        batch.session_updates.pop(row.id, None)
        conn.execute(
            _STOP_SESSION,
            {
                "b_id": row.id,
                "b_meter": w.meter_stop,
                "b_at": w.timestamp,
                "b_reason": w.reason or "Local",
                "b_energy": energy,
                "b_now": utcnow(),
            },
        )
        running = row.authorization_status == ACCEPTED and not late
        return Stopped(
            row.id, row.connector_id, energy, info, repeated=False, running=running, late=late
        )

    def _tag(self, conn: Connection, id_tag: str, charger_id: uuid.UUID) -> IdTagRecord | None:
        """The tag as the charger ``charger_id`` sees it (``scoped``)."""
        row = conn.execute(_FIND_TAG, {"b_tag": id_tag, "b_charger": charger_id}).first()
        if row is None:
            return None
        tag = IdTagRecord(row.id_tag, row.status, row.expires_at, row.parent_id_tag, row.site_id)
        return scoped(tag, row.charger_site)


def _session_progress(tx: _Tx, samples: Sequence[Sample], batch: _Batch) -> float | None:
    """Energy so far (register minus meterStart) and SoC, queued as a session update."""
    register = soc = None
    for s in samples:
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

    def __init__(self, statements: DriverStatements) -> None:
        self.statements = statements
        self.received_at = statements.stamp(utcnow())
        self.messages: list[tuple[Any, ...]] = []
        self.presence: dict[uuid.UUID, PresenceWrite] = {}
        self.notices: list[dict[str, Any]] = []
        self.session_updates: dict[uuid.UUID, dict[str, Any]] = {}
        # Ids found or created in this batch; cached only once it has committed.
        self.places: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, uuid.UUID]] = {}
        self.txs: dict[tuple[uuid.UUID, int], _Tx] = {}
        self.txs_201: dict[TxKey, KnownTx] = {}

    def add_samples(
        self,
        charger_id: uuid.UUID,
        evse_number: int,
        session_id: uuid.UUID | None,
        samples: Sequence[Sample],
        repeat_of: tuple[int | None] | None = None,
    ) -> None:
        """Rows for ``samples``. Those of a MeterValues message (``repeat_of``: its
        transactionId, or None outside a transaction) have a digest, so that a repeat
        of the message, re-sent after a lost answer or a restart, inserts nothing."""
        b = self.statements
        charger_key = b.uuid(charger_id)
        session_key = b.uuid(session_id) if session_id is not None else None
        for chunk in row_chunks(samples):
            encoded = encode_samples(chunk)
            digest = None
            if repeat_of is not None:
                digest = message_digest(evse_number, repeat_of[0], encoded)
            self.messages.append(
                (charger_key, session_key, evse_number, encoded, self.received_at, digest)
            )

    def flush(self, conn: Connection) -> None:
        b = self.statements
        if self.messages:
            conn.exec_driver_sql(b.insert_message, self.messages)
        if self.session_updates:
            now = b.stamp(utcnow())
            conn.exec_driver_sql(
                b.update_progress,
                [
                    (fields.get("energy_wh"), fields.get("soc"), now, b.uuid(session_id))
                    for session_id, fields in self.session_updates.items()
                ],
            )
        if self.notices:
            conn.execute(insert(charger_notices), self.notices)
        if self.presence:
            rows = [
                {"b_id": p.charger_id, "online": p.online, "last_seen_at": p.at}
                for p in self.presence.values()
            ]
            conn.execute(
                update(chargers)
                .where(chargers.c.id == bindparam("b_id"))
                .values(online=bindparam("online"), last_seen_at=bindparam("last_seen_at")),
                rows,
            )
            for p in self.presence.values():
                if p.ocpp_version is not None:
                    conn.execute(
                        update(chargers)
                        .where(chargers.c.id == p.charger_id)
                        .values(ocpp_version=p.ocpp_version)
                    )
