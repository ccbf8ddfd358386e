"""Unit of work: one transaction and the repositories that share it.

async with UnitOfWork(db) as uow:
    charger = await uow.chargers.by_ocpp_id("CP1")
    ...
    await uow.commit()   # durable from here on; leaving without commit rolls back
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid.store.db import Database
from chargegrid.store.repositories import (
    ApiTokenRepository,
    ChargerRepository,
    ChargerVariableRepository,
    CircuitRepository,
    ConnectorRepository,
    ElectricityMeterRepository,
    EvseRepository,
    IdTagRepository,
    MeterValueRepository,
    SessionRepository,
    SiteRepository,
    WebhookRepository,
)


class UnitOfWork:
    session: AsyncSession

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __aenter__(self) -> Self:
        self.session = self._db.sessionmaker()
        s = self.session
        self.sites = SiteRepository(s)
        self.circuits = CircuitRepository(s)
        self.chargers = ChargerRepository(s)
        self.evses = EvseRepository(s)
        self.connectors = ConnectorRepository(s)
        self.sessions = SessionRepository(s)
        self.meter_values = MeterValueRepository(s)
        self.variables = ChargerVariableRepository(s)
        self.id_tags = IdTagRepository(s)
        self.meters = ElectricityMeterRepository(s)
        self.tokens = ApiTokenRepository(s)
        self.webhooks = WebhookRepository(s)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
