from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query
from sqlalchemy import select

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, in_scope, make_router
from chargegrid.api.schemas.common import ListOf, columns_of
from chargegrid.api.schemas.sessions import MeterValueOut, SessionDetail, SessionOut
from chargegrid.domain.errors import InvalidValue
from chargegrid.services.configure.context import ConfigContext, found
from chargegrid.store.models import Charger, ChargingSession
from chargegrid.store.pagination import decode_cursor, encode_cursor

router = make_router("sessions")
DETAIL_SAMPLES = 1000


def _out(session: ChargingSession) -> SessionOut:
    return SessionOut.model_validate({**columns_of(session), "active": session.stopped_at is None})


async def _get(ctx: ConfigContext, session_id: uuid.UUID) -> ChargingSession:
    session = found(await ctx.uow.sessions.get(session_id), "session")
    charger = await ctx.uow.chargers.get(session.charger_id)
    ctx.who.check_site(charger.site_id if charger else None, "session")
    return session


@router.get("/sessions")
async def list_sessions(
    ctx: Ctx,
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
        query = query.where(stopped.is_(None) if active else stopped.is_not(None))
    page = await repo.page(query, limit, cursor)
    return ListOf(data=[_out(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/sessions/{session_id}")
async def get_session(session_id: uuid.UUID, ctx: Ctx) -> SessionDetail:
    session = await _get(ctx, session_id)
    values = await ctx.uow.meter_values.for_session(session.id, DETAIL_SAMPLES)
    return SessionDetail.model_validate(
        {
            **_out(session).model_dump(),
            "meter_values": [MeterValueOut.model_validate(v) for v in values],
        }
    )


@router.get("/sessions/{session_id}/meter-values")
async def list_meter_values(
    session_id: uuid.UUID, ctx: Ctx, limit: Limit = 500, cursor: Cursor = None
) -> ListOf[MeterValueOut]:
    session = await _get(ctx, session_id)
    after = None
    if cursor is not None:
        try:
            after = int(decode_cursor(cursor))
        except ValueError as exc:
            raise InvalidValue.of("cursor", "not a cursor this server handed out") from exc
    values = await ctx.uow.meter_values.for_session(session.id, limit + 1, after)
    more = len(values) > limit
    values = values[:limit]
    return ListOf(
        data=[MeterValueOut.model_validate(v) for v in values],
        next_cursor=encode_cursor(str(values[-1].id)) if more else None,
    )
