"""The reads behind ``GET /sites/{id}/consumption``: a site's sessions that overlap a
window, with their charger and circuit, and an energy for the ones that have none yet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid.store.models import Charger, ChargingSession, Circuit, MeterValue

ACCEPTED = "Accepted"
REGISTER = "Energy.Active.Import.Register"


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: uuid.UUID
    charger_id: uuid.UUID
    ocpp_id: str
    circuit_id: uuid.UUID | None
    id_tag: str | None
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: float


async def site_sessions(
    session: AsyncSession, site_id: uuid.UUID, start: datetime, end: datetime
) -> list[SessionRow]:
    """Accepted sessions on the site's chargers that were plugged in during [start, end)."""
    s = ChargingSession
    query = (
        select(
            s.id,
            s.charger_id,
            Charger.ocpp_id,
            Charger.circuit_id,
            s.id_tag,
            s.started_at,
            s.stopped_at,
            s.energy_wh,
            s.meter_start,
        )
        .join(Charger, Charger.id == s.charger_id)
        .where(
            Charger.site_id == site_id,
            s.authorization_status == ACCEPTED,
            s.started_at < end,
            (s.stopped_at.is_(None)) | (s.stopped_at >= start),
        )
    )
    rows = list((await session.execute(query)).all())
    # A session whose energy was never set (a charger that sent no register in its
    # transaction messages) gets it from its stored register samples instead.
    lacking = [r for r in rows if not r.energy_wh]
    from_samples = await _register_energy(session, [r.id for r in lacking])
    out = []
    for r in rows:
        energy = r.energy_wh or 0.0
        if not energy and r.id in from_samples:
            first, last = from_samples[r.id]
            energy = max(0.0, last - (r.meter_start if r.meter_start is not None else first))
        out.append(
            SessionRow(
                r.id,
                r.charger_id,
                r.ocpp_id,
                r.circuit_id,
                r.id_tag,
                r.started_at,
                r.stopped_at,
                energy,
            )
        )
    return out


async def _register_energy(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[float, float]]:
    """Per session: its lowest and highest energy register reading, in Wh."""
    if not ids:
        return {}
    m = MeterValue
    query = (
        select(m.session_id, func.min(m.value), func.max(m.value), m.unit)
        .where(m.session_id.in_(ids), m.measurand == REGISTER, m.phase.is_(None))
        .group_by(m.session_id, m.unit)
    )
    out: dict[uuid.UUID, tuple[float, float]] = {}
    for session_id, low, high, unit in await session.execute(query):
        scale = 1000.0 if unit == "kWh" else 1.0
        if session_id is not None:
            out[session_id] = (float(low) * scale, float(high) * scale)
    return out


async def site_circuits(
    session: AsyncSession, site_id: uuid.UUID
) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
    """The site's circuits: id -> (name, parent id)."""
    rows = await session.execute(
        select(Circuit.id, Circuit.name, Circuit.parent_id).where(Circuit.site_id == site_id)
    )
    return {r.id: (r.name, r.parent_id) for r in rows}
