"""2.0.1 TransactionEvents, EV charging needs and the device model, as the SQL store
applies them inside a group commit (``charger_store.SqlChargerStore._apply``).

A 2.0.1 transaction is the station's: it names it (``transactionId``, a string kept in
``sessions.remote_transaction_id``; ``sessions.transaction_id`` stays NULL, it is 1.6's
number) and numbers its events from 0 (``seqNo``). Each event's identity goes into
``transaction_events`` first; a replay hits the unique key and changes nothing, so an
event queued while offline and sent again after a reconnect is stored once.

A session is created by the first event of a transaction we see, whatever its type (a
lost Started must not lose the transaction's energy). It runs unless its idToken was
refused: a transaction started on a plugged-in cable before any idToken is shown runs
(the station holds the car until it is authorized; planning current for it is safe).

The common event, an Updated with meter values and no idToken on a transaction already
seen, takes a short path (``TxEvents._progress``) with the same outcome: what it needs
of the session and never changes once known (its id, EVSE number and meterStart once
set; ``KnownTx``) is cached per transaction, learnt only from committed batches; what
can change (stopped, authorization) stays the database's alone, read back from a
guarded UPDATE. Every other event takes the general path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from chargegrid.domain.deadline_sources import STATED_CONFIDENCE, DeadlineSource, may_replace
from chargegrid.services.charger_ports import (
    ACCEPTED,
    SERVER_STOP_REASONS,
    SUPERSEDED,
    Closed,
    EvNeedsWrite,
    ExternalLimitWrite,
    IdTagInfo,
    IdTagRecord,
    Sample,
    TxEventResult,
    TxEventWrite,
    VariablesWrite,
)
from chargegrid.services.id_tag_policy import id_tag_info
from chargegrid.store.meter_messages import DriverStatements
from chargegrid.store.models import ChargingSession, Evse, table_of
from chargegrid.store.ocpp_tables import charger_variables
from chargegrid.store.session_queries import OPEN_SESSIONS, TAG_BUSY_ELSEWHERE
from chargegrid.store.types import utcnow

sessions = table_of(ChargingSession)

ENERGY = "Energy.Active.Import.Register"


class KnownTx(NamedTuple):
    """What never changes for a 2.0.1 transaction once known: its session, EVSE, and
    meterStart once set (None: not yet; only the general path sets it)."""

    session_id: uuid.UUID
    evse_number: int
    meter_start: float | None


# Keyed (charger id, the station's transactionId).
TxKey = tuple[uuid.UUID, str]


class Batch(Protocol):
    """The group commit's gathered row work (``charger_store._Batch``)."""

    statements: DriverStatements
    # Transactions seen in this batch; the store caches them once it has committed.
    txs_201: dict[TxKey, KnownTx]

    def add_samples(
        self,
        charger_id: uuid.UUID,
        evse_number: int,
        session_id: uuid.UUID | None,
        samples: Sequence[Sample],
    ) -> None: ...


Place = Callable[[Connection, uuid.UUID, int, Any], tuple[uuid.UUID, uuid.UUID]]
# The tag as the charger shows it (a tag of another site is Invalid there).
Tag = Callable[[Connection, str, uuid.UUID], IdTagRecord | None]
Close = Callable[[Connection, Iterable[Any], uuid.UUID, str, datetime], list[Closed]]

_FIND = select(
    sessions.c.id,
    sessions.c.evse_number,
    sessions.c.connector_id,
    sessions.c.id_tag,
    sessions.c.meter_start,
    sessions.c.energy_wh,
    sessions.c.stopped_at,
    sessions.c.stop_reason,
    sessions.c.authorization_status,
).where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.remote_transaction_id == bindparam("b_tx"),
)
_OPEN_ON_EVSE = OPEN_SESSIONS.where(
    sessions.c.charger_id == bindparam("b_charger"),
    sessions.c.evse_number == bindparam("b_evse"),
    or_(
        sessions.c.remote_transaction_id.is_(None),
        sessions.c.remote_transaction_id != bindparam("b_tx"),
    ),
)


# Built once: a statement made per event (``.values(...)`` with literals,
# ``.where(id == value)``) cost ~150 µs in construction and cache-key generation per
# TransactionEvent; a prebuilt one hits SQLAlchemy's compiled cache directly. (The
# event's identity and an Updated's progress go out as driver-level SQL,
# ``DriverStatements.record_tx_event`` / ``tx_progress``.)
# The SET clause is the keys of the parameters given (``b_id`` is the WHERE's).
_UPDATE_SESSION = update(sessions).where(sessions.c.id == bindparam("b_id"))


def register_of(samples: Sequence[Sample]) -> float | None:
    """The energy register (Wh) in ``samples``: the last unphased reading."""
    value = None
    for s in samples:
        if s.measurand == ENERGY and s.phase is None:
            value = s.value
    return value


def soc_of(samples: Sequence[Sample]) -> float | None:
    """The EV's state of charge (%) in ``samples``, the last one."""
    value = None
    for s in samples:
        if s.measurand == "SoC":
            value = s.value
    return value


class TxEvents:
    """Applies TxEventWrite, EvNeedsWrite and VariablesWrite on one connection."""

    def __init__(
        self, place: Place, tag: Tag, close: Close, known: Mapping[TxKey, KnownTx]
    ) -> None:
        self._place = place
        self._tag = tag
        self._close = close
        # The store's cache of committed transactions (``SqlChargerStore._learn``).
        self._known = known

    def apply(self, conn: Connection, w: TxEventWrite, batch: Batch) -> TxEventResult:
        now = utcnow()
        b = batch.statements
        # The driver's own cursor, in the connection's transaction: SQLAlchemy's
        # exec_driver_sql cost ~20 µs a statement in execution-context and result
        # set-up, several times SQLite's own work for these one-row statements.
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        bound_now = b.at(now)
        if not self._first_time(cursor, w, bound_now, b):
            return self._replayed(conn, w)
        if w.event_type == "Updated" and w.id_tag is None and w.remote_start_id is None:
            key = (w.charger_id, w.transaction_id)
            known = batch.txs_201.get(key) or self._known.get(key)
            if known is not None:
                result = self._progress(cursor, w, known, bound_now, batch)
                if result is not None:
                    return result
        return self._general(conn, w, now, batch)

    def _progress(
        self, cursor: Any, w: TxEventWrite, known: KnownTx, now: Any, batch: Batch
    ) -> TxEventResult | None:
        """An Updated event without idToken (nor remoteStartId) on a known transaction:
        what ``_general`` does for it, in one guarded UPDATE. None when ``_general`` must
        go on (meterStart still to be set, or the energy of a stopped session wanted);
        nothing has changed then."""
        register = register_of(w.samples)
        meter_start = known.meter_start
        energy = None
        if register is not None:
            if meter_start is None:
                return None  # this event sets meterStart
            energy = max(0.0, register - meter_start)
        b = batch.statements
        soc = soc_of(w.samples)
        cursor.execute(
            b.tx_progress, (energy, w.charging_state, now, soc, b.uuid(known.session_id))
        )
        rows = cursor.fetchall()  # to the statement's end (SQLite: no statement left open)
        if not rows:
            # Stopped (only open sessions are updated): nothing written, as in _general;
            # it still takes the samples and answers with the energy it computes.
            if energy is None:
                return None
            was_running = False
        else:
            status, stored_energy = rows[0]
            was_running = status == ACCEPTED
            if energy is None:
                energy = stored_energy  # unchanged: no register in this event
        batch.add_samples(w.charger_id, known.evse_number, known.session_id, w.samples)
        return TxEventResult(
            session_id=known.session_id,
            evse_number=known.evse_number,
            repeated=False,
            id_tag_info=None,
            began=False,
            refused=False,
            ended=False,
            was_running=was_running,
            energy_wh=energy,
        )

    def _general(
        self, conn: Connection, w: TxEventWrite, now: datetime, batch: Batch
    ) -> TxEventResult:
        row = conn.execute(_FIND, {"b_charger": w.charger_id, "b_tx": w.transaction_id}).first()
        superseded: tuple[Closed, ...] = ()
        if row is None:
            superseded = self._supersede(conn, w)
            row = self._create(conn, w, now, batch)
            was_running = False
            fresh = True
        else:
            was_running = row.stopped_at is None and row.authorization_status == ACCEPTED
            fresh = False
        session_id: uuid.UUID = row.id
        evse_number: int = row.evse_number
        info: IdTagInfo | None = None
        status = row.authorization_status
        fields: dict[str, Any] = {"updated_at": now, "rebooted_at": None}
        if w.id_tag is not None:
            info = self._authorize(conn, w, now)
            # Another token stopping the transaction (a group member, a master pass) is
            # answered, but the transaction stays its starter's.
            stopper = (
                row.id_tag is not None
                and w.id_tag != row.id_tag
                and (w.trigger_reason == "StopAuthorized" or w.event_type == "Ended")
            )
            if not stopper and (fresh or w.id_tag != row.id_tag or status != info.status):
                status = info.status
                fields["id_tag"] = w.id_tag
                fields["authorization_status"] = status
        if w.charging_state is not None:
            fields["charging_state"] = w.charging_state
        if w.remote_start_id is not None:
            fields["remote_start_id"] = w.remote_start_id
        soc = soc_of(w.samples)
        if soc is not None:
            fields["soc"] = soc
        register = register_of(w.samples)
        meter_start = row.meter_start
        if meter_start is None and register is not None:
            meter_start = fields["meter_start"] = register
        energy = row.energy_wh
        if register is not None and meter_start is not None:
            energy = fields["energy_wh"] = max(0.0, register - meter_start)
        batch.add_samples(w.charger_id, evse_number, session_id, w.samples)
        late = row.stopped_at is not None and row.stop_reason in SERVER_STOP_REASONS
        ended = w.event_type == "Ended" and (row.stopped_at is None or late)
        if ended:
            fields["stopped_at"] = w.timestamp
            fields["stop_reason"] = (w.stopped_reason or "Local")[:32]
            if register is not None:
                fields["meter_stop"] = register
        stored_meter_start = row.meter_start
        if row.stopped_at is None or ended:
            fields["b_id"] = session_id
            conn.execute(_UPDATE_SESSION, fields)
            stored_meter_start = meter_start
        # Cached as stored (a stopped session's meterStart stays as it was).
        batch.txs_201[(w.charger_id, w.transaction_id)] = KnownTx(
            session_id, evse_number, stored_meter_start
        )
        running_now = status == ACCEPTED and row.stopped_at is None and not ended
        return TxEventResult(
            session_id=session_id,
            evse_number=evse_number,
            repeated=False,
            id_tag_info=info,
            began=running_now and not was_running,
            refused=status != ACCEPTED and (was_running or fresh),
            ended=ended and not late,
            was_running=was_running,
            energy_wh=energy,
            late=ended and late,
            superseded=superseded,
        )

    def _first_time(self, cursor: Any, w: TxEventWrite, now: Any, b: DriverStatements) -> bool:
        """Record the event's identity (``now`` as bound); False if it was recorded
        before (a replay)."""
        # ON CONFLICT DO NOTHING: a concurrent node that stored it first wins, and this
        # transaction goes on (an IntegrityError would abort it on PostgreSQL).
        cursor.execute(
            b.record_tx_event,
            (
                b.uuid(w.charger_id),
                w.transaction_id,
                w.seq_no,
                w.event_type,
                w.trigger_reason[:32],
                b.at(w.timestamp),
                bool(w.offline),
                now,
            ),
        )
        return bool(cursor.rowcount)

    def _replayed(self, conn: Connection, w: TxEventWrite) -> TxEventResult:
        row = conn.execute(_FIND, {"b_charger": w.charger_id, "b_tx": w.transaction_id}).first()
        info = None
        if w.id_tag is not None:
            status = row.authorization_status if row is not None else "Invalid"
            info = IdTagInfo(status)
        return TxEventResult(
            session_id=row.id if row is not None else uuid.UUID(int=0),
            evse_number=row.evse_number if row is not None else w.evse_number or 0,
            repeated=True,
            id_tag_info=info,
            began=False,
            refused=False,
            ended=False,
            was_running=False,
            energy_wh=row.energy_wh if row is not None else None,
        )

    def _authorize(self, conn: Connection, w: TxEventWrite, now: datetime) -> IdTagInfo:
        assert w.id_tag is not None
        busy = (
            conn.execute(
                TAG_BUSY_ELSEWHERE,
                {
                    "b_tag": w.id_tag,
                    "b_tx": w.transaction_id,
                    "b_seen_since": now - timedelta(seconds=w.suspect_after_s),
                },
            ).first()
            is not None
        )
        return id_tag_info(
            self._tag(conn, w.id_tag, w.charger_id),
            now,
            busy_elsewhere=busy,
            unknown_accepted=w.unknown_tags_accepted,
        )

    def _supersede(self, conn: Connection, w: TxEventWrite) -> tuple[Closed, ...]:
        """An EVSE holds one transaction: older open ones there lost their Ended."""
        if w.evse_number is None:
            return ()
        rows = conn.execute(
            _OPEN_ON_EVSE,
            {"b_charger": w.charger_id, "b_evse": w.evse_number, "b_tx": w.transaction_id},
        ).all()
        return tuple(self._close(conn, rows, w.charger_id, SUPERSEDED, w.timestamp))

    def _create(self, conn: Connection, w: TxEventWrite, now: datetime, batch: Batch) -> Any:
        number = w.evse_number or 1
        evse_pk, connector_pk = self._place(conn, w.charger_id, number, batch)
        session_id = uuid.uuid4()
        conn.execute(
            insert(sessions).values(
                id=session_id,
                charger_id=w.charger_id,
                evse_id=evse_pk,
                connector_pk=connector_pk,
                evse_number=number,
                connector_id=number,
                transaction_id=None,
                remote_transaction_id=w.transaction_id,
                id_tag=None,
                meter_start=None,
                energy_wh=0.0,
                started_at=w.timestamp,
                authorization_status=ACCEPTED,
                created_at=now,
                updated_at=now,
            )
        )
        return conn.execute(_FIND, {"b_charger": w.charger_id, "b_tx": w.transaction_id}).one()


def apply_ev_needs(conn: Connection, w: EvNeedsWrite) -> uuid.UUID | None:
    """Set what the EV asked for on the EVSE's open session; its id, if there is one.
    Kept as the car's own ask, and the deadline the load manager plans with unless the
    API set that part (domain/deadline_sources.py)."""
    row = conn.execute(
        select(sessions.c.id, sessions.c.departure_source, sessions.c.energy_wanted_source)
        .where(
            sessions.c.charger_id == w.charger_id,
            sessions.c.evse_number == w.evse_number,
            sessions.c.stopped_at.is_(None),
        )
        .order_by(sessions.c.started_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    fields: dict[str, Any] = {"updated_at": utcnow()}
    if w.departure_time is not None:
        fields["ev_departure_time"] = w.departure_time
        if may_replace(row.departure_source, DeadlineSource.CHARGER):
            fields["departure_time"] = w.departure_time
            fields["departure_source"] = DeadlineSource.CHARGER.value
            fields["departure_confidence"] = STATED_CONFIDENCE
    if w.energy_wanted_wh is not None:
        fields["ev_energy_wanted_wh"] = w.energy_wanted_wh
        if may_replace(row.energy_wanted_source, DeadlineSource.CHARGER):
            fields["energy_wanted_wh"] = w.energy_wanted_wh
            fields["energy_wanted_source"] = DeadlineSource.CHARGER.value
    if w.ev_max_current is not None:
        fields["ev_max_current"] = w.ev_max_current
    conn.execute(update(sessions).where(sessions.c.id == row.id), fields)
    session_id: uuid.UUID = row.id
    return session_id


_KEY = (
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)
_VALUES = (
    "value",
    "mutability",
    "persistent",
    "constant",
    "data_type",
    "unit",
    "min_limit",
    "max_limit",
    "values_list",
    "supports_monitoring",
    "status",
)


def apply_variables(conn: Connection, w: VariablesWrite) -> int:
    """Upsert each reported attribute; a field the message did not carry keeps what an
    earlier report said (a GetVariables answer has no characteristics). How many."""
    c = charger_variables.c
    for v in w.variables:
        key = {k: getattr(v, k) for k in _KEY}
        found = conn.execute(
            select(c.id).where(c.charger_id == w.charger_id, *(c[k] == key[k] for k in _KEY))
        ).first()
        said = {k: getattr(v, k) for k in _VALUES if getattr(v, k) is not None}
        if w.source != "set" or v.status is None:
            said["status"] = v.status  # an accepted get/set/report clears an old failure
        if v.status is not None and w.source == "set":
            said.pop("value", None)  # a refused SetVariables leaves the value as it was
        said.update(source=w.source, updated_at=w.at)
        if found is None:
            conn.execute(insert(charger_variables).values(charger_id=w.charger_id, **key, **said))
        else:
            conn.execute(update(charger_variables).where(c.id == found.id), said)
    return len(w.variables)


def apply_external_limit(conn: Connection, w: ExternalLimitWrite) -> int:
    """Set (or clear) the EVSEs' external limit; how many EVSE rows it reached. A clear
    from one source leaves another source's limit alone."""
    evses = table_of(Evse)
    query = update(evses).where(evses.c.charger_id == w.charger_id)
    if w.evse_number:
        query = query.where(evses.c.evse_number == w.evse_number)
    if w.amps is None:
        query = query.where(evses.c.external_limit_source == w.source).values(
            external_limit_a=None, external_limit_source=None
        )
    else:
        query = query.values(external_limit_a=w.amps, external_limit_source=w.source)
    return int(conn.execute(query).rowcount or 0)
