"""Repositories: the queries each part of chargegrid needs, on one AsyncSession.

They never commit; the unit of work (``store.uow``) owns the transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from chargegrid.domain.errors import InvalidValue
from chargegrid.store.meter_messages import SampleRecord, messages_after, sample_records
from chargegrid.store.models import (
    ApiToken,
    Base,
    Charger,
    ChargingSession,
    Circuit,
    Connector,
    ElectricityMeter,
    Evse,
    IdTag,
    MeterReading,
    MeterValue,
    Site,
    TransactionId,
    Webhook,
)
from chargegrid.store.ocpp_tables import charger_variables
from chargegrid.store.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor

M = TypeVar("M", bound=Base)


class Repository(Generic[M]):
    """Get, add, delete and page through one table keyed by a UUID ``id``."""

    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: uuid.UUID) -> M | None:
        return await self.session.get(self.model, id_, options=self._load_options())

    def add(self, obj: M) -> M:
        self.session.add(obj)
        return obj

    async def delete(self, obj: M) -> None:
        await self.session.delete(obj)

    async def flush(self) -> None:
        await self.session.flush()

    def _load_options(self) -> Sequence[Any]:
        return ()

    def select(self) -> Select[M]:
        return select(self.model).options(*self._load_options())

    # Lists come in creation order (newest last); a subclass may sort otherwise.
    order_column = "created_at"
    newest_first = False

    async def page(self, query: Select[M], limit: int, cursor: str | None) -> Page[M]:
        """One page of ``query`` in keyset order (``order_column``, then id), so rows
        added or removed between pages neither repeat nor vanish from the walk."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidValue.of("limit", f"must be between 1 and {MAX_LIMIT}")
        columns = self.model.__table__.c
        key, id_col = columns[self.order_column], columns.id
        if cursor is not None:
            after_key, after_id = _parse_cursor(cursor, numeric=isinstance(key.type, Integer))
            if self.newest_first:
                query = query.where(or_(key < after_key, and_(key == after_key, id_col < after_id)))
            else:
                query = query.where(or_(key > after_key, and_(key == after_key, id_col > after_id)))
        order = (key.desc(), id_col.desc()) if self.newest_first else (key, id_col)
        rows = list((await self.session.scalars(query.order_by(*order).limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            return Page(rows, None)
        last = rows[-1]
        last_key: datetime | int = getattr(last, self.order_column)
        text = last_key.isoformat() if isinstance(last_key, datetime) else last_key
        return Page(rows, encode_cursor(json.dumps([text, str(last.id)])))  # type: ignore[attr-defined]


# Integer keys (EVSE and connector numbers) stay inside a 32-bit column's range, so a
# forged cursor cannot make the database reject the comparison.
_INT_KEY_RANGE = range(-(2**31), 2**31)


def _parse_cursor(cursor: str, *, numeric: bool = False) -> tuple[datetime | int, uuid.UUID]:
    try:
        key, id_text = json.loads(decode_cursor(cursor))
        if not numeric:
            return datetime.fromisoformat(key), uuid.UUID(id_text)
        if type(key) is not int or key not in _INT_KEY_RANGE:
            raise ValueError("not a key of this list")
        return key, uuid.UUID(id_text)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidValue.of("cursor", "not a cursor this server handed out") from exc


class SiteRepository(Repository[Site]):
    model = Site

    async def all(self) -> list[Site]:
        return list((await self.session.scalars(select(Site).order_by(Site.name))).all())


class CircuitRepository(Repository[Circuit]):
    model = Circuit

    async def for_site(self, site_id: uuid.UUID) -> list[Circuit]:
        query = select(Circuit).where(Circuit.site_id == site_id).order_by(Circuit.name)
        return list((await self.session.scalars(query)).all())

    async def children(self, circuit_id: uuid.UUID) -> list[Circuit]:
        query = select(Circuit).where(Circuit.parent_id == circuit_id)
        return list((await self.session.scalars(query)).all())

    async def top_level(self, site_id: uuid.UUID) -> list[Circuit]:
        query = select(Circuit).where(Circuit.site_id == site_id, Circuit.parent_id.is_(None))
        return list((await self.session.scalars(query)).all())


class ChargerRepository(Repository[Charger]):
    model = Charger

    def _load_options(self) -> Sequence[Any]:
        return (selectinload(Charger.evses).selectinload(Evse.connectors),)

    async def by_ocpp_id(self, ocpp_id: str) -> Charger | None:
        query = self.select().where(Charger.ocpp_id == ocpp_id)
        return (await self.session.scalars(query)).one_or_none()

    async def for_site(self, site_id: uuid.UUID) -> list[Charger]:
        query = self.select().where(Charger.site_id == site_id).order_by(Charger.ocpp_id)
        return list((await self.session.scalars(query)).all())

    async def count_in_circuit(self, circuit_id: uuid.UUID) -> int:
        query = select(func.count()).select_from(Charger).where(Charger.circuit_id == circuit_id)
        return int((await self.session.execute(query)).scalar_one())


class EvseRepository(Repository[Evse]):
    model = Evse
    order_column = "evse_number"  # unique per charger, the only list EVSEs come in

    def _load_options(self) -> Sequence[Any]:
        return (selectinload(Evse.connectors), selectinload(Evse.charger))

    async def for_charger(self, charger_id: uuid.UUID) -> list[Evse]:
        query = self.select().where(Evse.charger_id == charger_id).order_by(Evse.evse_number)
        return list((await self.session.scalars(query)).all())

    async def by_number(self, charger_id: uuid.UUID, evse_number: int) -> Evse | None:
        query = self.select().where(Evse.charger_id == charger_id, Evse.evse_number == evse_number)
        return (await self.session.scalars(query)).one_or_none()


class ConnectorRepository(Repository[Connector]):
    model = Connector
    order_column = "connector_id"  # unique per charger, so per EVSE too

    async def by_charger(self, charger_id: uuid.UUID, connector_id: int) -> Connector | None:
        query = select(Connector).where(
            Connector.charger_id == charger_id, Connector.connector_id == connector_id
        )
        return (await self.session.scalars(query)).one_or_none()

    async def by_evse(self, evse_id: uuid.UUID, connector_id: int) -> Connector | None:
        query = select(Connector).where(
            Connector.evse_id == evse_id, Connector.connector_id == connector_id
        )
        return (await self.session.scalars(query)).one_or_none()


class SessionRepository(Repository[ChargingSession]):
    model = ChargingSession
    order_column = "started_at"
    newest_first = True

    async def by_transaction_id(self, transaction_id: int) -> ChargingSession | None:
        query = select(ChargingSession).where(ChargingSession.transaction_id == transaction_id)
        return (await self.session.scalars(query)).one_or_none()

    async def active_for_charger(self, charger_id: uuid.UUID) -> list[ChargingSession]:
        query = select(ChargingSession).where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.stopped_at.is_(None),
            ChargingSession.authorization_status == "Accepted",
        )
        return list((await self.session.scalars(query)).all())

    async def allocate_transaction_id(self) -> int:
        """A fresh OCPP 1.6 transaction id, unique across the database."""
        row = TransactionId()
        self.session.add(row)
        await self.session.flush()
        return row.id


class MeterValueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_all(self, values: Sequence[MeterValue]) -> None:
        self.session.add_all(values)

    async def for_session(
        self, session_id: uuid.UUID, limit: int, after_id: int | None = None
    ) -> list[MeterValue | SampleRecord]:
        query = select(MeterValue).where(MeterValue.session_id == session_id)
        if after_id is not None:
            query = query.where(MeterValue.id > after_id)
        # Arrival order: stable for cursor paging, chronological for a live charger.
        query = query.order_by(MeterValue.id).limit(limit)
        values: list[MeterValue | SampleRecord] = list((await self.session.scalars(query)).all())
        if len(values) < limit:
            # The OCPP server stores a MeterValues message as one row; its samples have
            # ids above every meter_values id, so they follow in the same order.
            rows = (await self.session.execute(messages_after(session_id, limit, after_id))).all()
            values += sample_records(rows, limit - len(values), after_id)
        return values


class IdTagRepository(Repository[IdTag]):
    model = IdTag

    async def by_tag(self, id_tag: str) -> IdTag | None:
        query = select(IdTag).where(IdTag.id_tag == id_tag)
        return (await self.session.scalars(query)).one_or_none()

    async def valid_at(self, site_id: uuid.UUID | None) -> list[IdTag]:
        """Every tag a charger on ``site_id`` may see: the site's own and the global ones."""
        query = select(IdTag).where(or_(IdTag.site_id.is_(None), IdTag.site_id == site_id))
        return list((await self.session.scalars(query.order_by(IdTag.id_tag))).all())


class ElectricityMeterRepository(Repository[ElectricityMeter]):
    model = ElectricityMeter

    def add_reading(self, reading: MeterReading) -> MeterReading:
        self.session.add(reading)
        return reading

    async def latest_reading(self, meter_id: uuid.UUID) -> MeterReading | None:
        query = (
            select(MeterReading)
            .where(MeterReading.meter_id == meter_id)
            .order_by(MeterReading.timestamp.desc(), MeterReading.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()


class ApiTokenRepository(Repository[ApiToken]):
    model = ApiToken

    async def by_hash(self, token_hash: str) -> ApiToken | None:
        query = select(ApiToken).where(ApiToken.token_hash == token_hash)
        return (await self.session.scalars(query)).one_or_none()


class WebhookRepository(Repository[Webhook]):
    model = Webhook

    async def enabled(self) -> list[Webhook]:
        query = select(Webhook).where(Webhook.enabled.is_(True))
        return list((await self.session.scalars(query)).all())


class ChargerVariableRepository:
    """The 2.0.1 device model as charger reported it (``ocpp_tables.charger_variables``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self,
        charger_id: uuid.UUID,
        limit: int,
        after_id: int | None = None,
        component: str | None = None,
        variable: str | None = None,
        evse_id: int | None = None,
    ) -> list[Any]:
        c = charger_variables.c
        query = select(charger_variables).where(c.charger_id == charger_id)
        if component is not None:
            query = query.where(c.component == component)
        if variable is not None:
            query = query.where(c.variable == variable)
        if evse_id is not None:
            query = query.where(c.evse_id == evse_id)
        if after_id is not None:
            query = query.where(c.id > after_id)
        query = query.order_by(c.id).limit(limit)
        return list((await self.session.execute(query)).all())
