from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy import or_, select

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, in_scope, make_router
from chargegrid.api.schemas.common import ListOf, columns_of
from chargegrid.api.schemas.sessions import (
    EndSession,
    MeterValueOut,
    SessionDetail,
    SessionOut,
)
from chargegrid.config import Settings
from chargegrid.services.charger_ports import ACCEPTED
from chargegrid.services.configure.context import ConfigContext
from chargegrid.services.sessions import end_session, is_running, is_suspect, session_in_scope
from chargegrid.store.models import Charger, ChargingSession
from chargegrid.store.pagination import encode_cursor, id_after
from chargegrid.store.types import utcnow

router = make_router("sessions")
DETAIL_SAMPLES = 1000


async def _outs(
    ctx: ConfigContext, request: Request, sessions: Iterable[ChargingSession]
) -> list[SessionOut]:
    """Sessions as the API shows them; ``suspect`` needs their chargers' link state."""
    sessions = list(sessions)
    ids = {s.charger_id for s in sessions if is_running(s)}
    chargers: dict[uuid.UUID, Charger] = {}
    if ids:
        rows = await ctx.uow.session.scalars(select(Charger).where(Charger.id.in_(ids)))
        chargers = {c.id: c for c in rows}
    settings: Settings = request.app.state.settings
    now = utcnow()
    return [_out(s, chargers.get(s.charger_id), now, settings) for s in sessions]


def _out(
    session: ChargingSession, charger: Charger | None, now: datetime, settings: Settings
) -> SessionOut:
    return SessionOut.model_validate(
        {
            **columns_of(session),
            "active": is_running(session),
            "suspect": is_suspect(session, charger, now, settings.session_suspect_after_s),
        }
    )


@router.get("/sessions")
async def list_sessions(
    ctx: Ctx,
    request: Request,
    site_id: SiteFilter = None,
    charger_id: Annotated[uuid.UUID | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[SessionOut]:
    repo = ctx.uow.sessions
    query = repo.select()
    if site_id is not None or not ctx.who.unscoped:
        scoped = select(Charger.id).where(in_scope(ctx.who, Charger.site_id, site_id))
        query = query.where(ChargingSession.charger_id.in_(scoped))
    if charger_id is not None:
        query = query.where(ChargingSession.charger_id == charger_id)
    if active is not None:
        stopped = ChargingSession.stopped_at
        accepted = ChargingSession.authorization_status == ACCEPTED
        # A refused start is never active, open or not.
        query = query.where(
            (stopped.is_(None) & accepted) if active else or_(stopped.is_not(None), ~accepted)
        )
    page = await repo.page(query, limit, cursor)
    return ListOf(data=await _outs(ctx, request, page.items), next_cursor=page.next_cursor)


@router.get("/sessions/{session_id}")
async def get_session(session_id: uuid.UUID, ctx: Ctx, request: Request) -> SessionDetail:
    session = await session_in_scope(ctx, session_id)
    values = await ctx.uow.meter_values.for_session(session.id, DETAIL_SAMPLES)
    (out,) = await _outs(ctx, request, [session])
    return SessionDetail.model_validate(
        {
            **out.model_dump(),
            "meter_values": [MeterValueOut.model_validate(v) for v in values],
        }
    )


@router.post("/sessions/{session_id}/actions/end")
async def end(session_id: uuid.UUID, body: EndSession, ctx: Ctx, request: Request) -> SessionOut:
    """End an open session by hand (owner, service, admin): e.g. its charger went
    offline for good. Nothing is sent to the charger; a later StopTransaction still
    completes the session with its real meter reading. Audited: ``ended_by`` and
    ``end_reason`` on the session, the log, and ``session.stopped``."""
    session = await end_session(ctx, session_id, body.reason)
    (out,) = await _outs(ctx, request, [session])
    return out


@router.get("/sessions/{session_id}/meter-values")
async def list_meter_values(
    session_id: uuid.UUID, ctx: Ctx, limit: Limit = 500, cursor: Cursor = None
) -> ListOf[MeterValueOut]:
    session = await session_in_scope(ctx, session_id)
    after = id_after(cursor)
    values = await ctx.uow.meter_values.for_session(session.id, limit + 1, after)
    more = len(values) > limit
    values = values[:limit]
    return ListOf(
        data=[MeterValueOut.model_validate(v) for v in values],
        next_cursor=encode_cursor(str(values[-1].id)) if more else None,
    )
