"""The built-in CA's storage on SQLite or PostgreSQL (``services.pki_ports.PkiStore``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from chargegrid.services.pki_ports import Material, RenewalDue, SignedCertificate
from chargegrid.store.models import Charger
from chargegrid.store.pki_tables import charger_certificates, pki_materials

STATION_CERTIFICATE = "ChargingStationCertificate"
_CHARGERS = Charger.__table__


def _latest_per_charger() -> Any:
    c = charger_certificates.c
    return (
        select(func.max(c.id))
        .where(c.certificate_type == STATION_CERTIFICATE)
        .group_by(c.charger_id)
    )


async def latest_signed(
    conn: AsyncConnection | AsyncSession, charger_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SignedCertificate]:
    """The last ChargingStationCertificate signed for each of ``charger_ids`` that has
    one (the API's ``certificate`` field reads it in its own unit of work)."""
    if not charger_ids:
        return {}
    c = charger_certificates.c
    latest = _latest_per_charger().where(c.charger_id.in_(charger_ids))
    rows = (await conn.execute(select(charger_certificates).where(c.id.in_(latest)))).mappings()
    return {row["charger_id"]: SignedCertificate(**row) for row in rows.all()}


class SqlPkiStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def materials(self) -> dict[str, Material]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(pki_materials))).mappings().all()
        return {
            row["role"]: Material(
                role=row["role"],
                cert_pem=row["cert_pem"],
                key_pem=row["key_pem"],
                hostnames=tuple(row["hostnames"] or ()),
                version=row["version"],
                updated_at=row["updated_at"],
            )
            for row in rows
        }

    async def save_materials(
        self, items: Iterable[tuple[str, str, str | None, Sequence[str]]], at: datetime
    ) -> None:
        async with self.engine.begin() as conn:
            for role, cert_pem, key_pem, hostnames in items:
                values: dict[str, Any] = {
                    "cert_pem": cert_pem,
                    "key_pem": key_pem,
                    "hostnames": list(hostnames),
                    "updated_at": at,
                }
                changed = await conn.execute(
                    update(pki_materials)
                    .where(pki_materials.c.role == role)
                    .values(version=pki_materials.c.version + 1, **values)
                )
                if changed.rowcount == 0:
                    await conn.execute(insert(pki_materials).values(role=role, version=1, **values))

    async def record_signed(
        self,
        charger_id: uuid.UUID,
        certificate_type: str,
        subject: str,
        serial: str,
        not_before: datetime,
        not_after: datetime,
        cert_pem: str,
        at: datetime,
    ) -> SignedCertificate:
        values = {
            "charger_id": charger_id,
            "certificate_type": certificate_type,
            "subject": subject,
            "serial": serial,
            "not_before": not_before,
            "not_after": not_after,
            "cert_pem": cert_pem,
            "created_at": at,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(charger_certificates).values(**values).returning(charger_certificates.c.id)
            )
            row_id = int(result.scalar_one())
        return SignedCertificate(
            id=row_id,
            charger_id=charger_id,
            certificate_type=certificate_type,
            subject=subject,
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            cert_pem=cert_pem,
            created_at=at,
            renewal_requested_at=None,
        )

    async def latest_signed(
        self, charger_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SignedCertificate]:
        async with self.engine.connect() as conn:
            return await latest_signed(conn, charger_ids)

    async def renewals_due(
        self, expiring_before: datetime, asked_before: datetime
    ) -> list[RenewalDue]:
        c = charger_certificates.c
        latest = _latest_per_charger()
        query = (
            select(c.id, c.charger_id, _CHARGERS.c.ocpp_id, c.not_after)
            .join(_CHARGERS, _CHARGERS.c.id == c.charger_id)
            .where(
                c.id.in_(latest),
                c.not_after < expiring_before,
                or_(c.renewal_requested_at.is_(None), c.renewal_requested_at < asked_before),
                _CHARGERS.c.online.is_(True),
            )
            .order_by(c.not_after)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RenewalDue(r[0], r[1], r[2], r[3]) for r in rows]

    async def renewal_requested(self, certificate_id: int, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(charger_certificates)
                .where(charger_certificates.c.id == certificate_id)
                .values(renewal_requested_at=at)
            )
