"""Past completed sessions as plain records, for the dwell and energy predictor
(domain/dwell_prediction.py): an id tag's, or every session of a site's chargers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid.domain.dwell_prediction import PastSession
from chargegrid.services.charger_ports import ACCEPTED
from chargegrid.store.models import Charger, ChargingSession

# The newest this many: months of a daily commuter, weeks of a busy site.
TAG_SESSIONS = 200
SITE_SESSIONS = 2000
# Shorter stays are false starts (a plug pulled at once), not habits.
MIN_DWELL_S = 120.0

_S = ChargingSession


def _completed() -> Select[datetime, datetime | None, float]:
    return (
        select(_S.started_at, _S.stopped_at, _S.energy_wh)
        .where(_S.stopped_at.is_not(None), _S.authorization_status == ACCEPTED)
        .order_by(_S.started_at.desc())
    )


def _records(rows: list[tuple[datetime, datetime | None, float]]) -> tuple[PastSession, ...]:
    """Arrivals in UTC: the caller moves them to the site's local time."""
    out = []
    for started, stopped, energy in rows:
        if stopped is None:
            continue
        dwell = (stopped - started).total_seconds()
        if dwell >= MIN_DWELL_S:
            out.append(PastSession(started, dwell, max(0.0, float(energy or 0.0))))
    return tuple(out)


async def tag_history(
    db: AsyncSession, id_tag: str, limit: int = TAG_SESSIONS
) -> tuple[PastSession, ...]:
    rows = await db.execute(_completed().where(_S.id_tag == id_tag).limit(limit))
    return _records([(r[0], r[1], r[2]) for r in rows])


async def site_history(
    db: AsyncSession, site_id: uuid.UUID, limit: int = SITE_SESSIONS
) -> tuple[PastSession, ...]:
    on_site = select(Charger.id).where(Charger.site_id == site_id)
    rows = await db.execute(_completed().where(_S.charger_id.in_(on_site)).limit(limit))
    return _records([(r[0], r[1], r[2]) for r in rows])
