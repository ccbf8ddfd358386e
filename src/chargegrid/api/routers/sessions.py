from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVarTuple

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, func, or_, select

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, in_scope, make_router
from chargegrid.api.schemas.common import ListOf, QueryTimestamp, columns_of
from chargegrid.api.schemas.sessions import (
    EndSession,
    MeterValueOut,
    SessionDeadlineUpdate,
    SessionDetail,
    SessionOut,
    SessionStatus,
    SessionSummary,
)
from chargegrid.api.schemas.sessions_csv import COLUMNS, CSV_MEDIA_TYPE, encode, row_of, wants_csv
from chargegrid.config import Settings
from chargegrid.domain.errors import InvalidValue
from chargegrid.services.auth import Principal
from chargegrid.services.charger_ports import ACCEPTED
from chargegrid.services.configure.context import ConfigContext
from chargegrid.services.consumption import session_duration_s, session_status
from chargegrid.services.deadline_component import inputs_of
from chargegrid.services.sessions import (
    end_session,
    is_running,
    is_suspect,
    session_in_scope,
    set_deadline,
)
from chargegrid.store.db import Database
from chargegrid.store.models import Charger, ChargingSession, Site
from chargegrid.store.pagination import MAX_LIMIT, encode_cursor, id_after
from chargegrid.store.types import utcnow
from chargegrid.store.uow import UnitOfWork

Ts = TypeVarTuple("Ts")

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
            "departure_at": session.departure_time,
            "active": is_running(session),
            "suspect": is_suspect(session, charger, now, settings.session_suspect_after_s),
        }
    )


class SessionFilters:
    """The filters ``GET /sessions``, its CSV and ``/sessions/summary`` share, as one
    WHERE clause: all three must answer for exactly the same rows."""

    def __init__(
        self,
        site_id: SiteFilter = None,
        charger_id: Annotated[uuid.UUID | None, Query()] = None,
        active: Annotated[bool | None, Query()] = None,
        started_from: Annotated[
            QueryTimestamp | None,
            Query(alias="from", description="Started at or after (ISO 8601 with offset)"),
        ] = None,
        started_to: Annotated[
            QueryTimestamp | None, Query(alias="to", description="Started before")
        ] = None,
        id_tag: Annotated[str | None, Query(max_length=36)] = None,
        status: Annotated[
            SessionStatus | None,
            Query(description="active (running), completed (stopped), refused (start refused)"),
        ] = None,
    ) -> None:
        if started_from and started_to and started_to <= started_from:
            raise InvalidValue.of("to", "must be after from")
        self.site_id = site_id
        self.charger_id = charger_id
        self.active = active
        self.started_from = started_from
        self.started_to = started_to
        self.id_tag = id_tag
        self.status = status

    def apply(self, who: Principal, query: Select[*Ts]) -> Select[*Ts]:
        s = ChargingSession
        if self.site_id is not None or not who.unscoped:
            scoped = select(Charger.id).where(in_scope(who, Charger.site_id, self.site_id))
            query = query.where(s.charger_id.in_(scoped))
        if self.charger_id is not None:
            query = query.where(s.charger_id == self.charger_id)
        accepted = s.authorization_status == ACCEPTED
        if self.active is not None:
            # A refused start is never active, open or not.
            query = query.where(
                (s.stopped_at.is_(None) & accepted)
                if self.active
                else or_(s.stopped_at.is_not(None), ~accepted)
            )
        if self.status == "active":
            query = query.where(s.stopped_at.is_(None) & accepted)
        elif self.status == "completed":
            query = query.where(s.stopped_at.is_not(None) & accepted)
        elif self.status == "refused":
            query = query.where(~accepted)
        if self.started_from is not None:
            query = query.where(s.started_at >= self.started_from)
        if self.started_to is not None:
            query = query.where(s.started_at < self.started_to)
        if self.id_tag is not None:
            query = query.where(s.id_tag == self.id_tag)
        return query


Filters = Annotated[SessionFilters, Depends()]
CSV_QUERY = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="csv: every matching session (also Accept: text/csv)"),
]


@router.get(
    "/sessions",
    response_model=ListOf[SessionOut],
    responses={200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "A page, or all as CSV"}},
    summary="List sessions (JSON pages or CSV)",
)
async def list_sessions(
    ctx: Ctx,
    request: Request,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
    output: CSV_QUERY = None,
) -> Any:
    """Charging sessions, newest first, a page at a time, filtered by `site_id`,
    `charger_id`, `from`/`to` (on `started_at`, times with an offset), `id_tag`,
    `status` (`active`, `completed`, `refused`) or `active`. Each has its energy,
    times, id tag, start authorization, stop reason, and who ended it by hand. As CSV
    (`?format=csv` or `Accept: text/csv`): every matching session, streamed a page at a
    time, with `limit` and `cursor` ignored (columns in docs/api.md; cells a
    spreadsheet would run as formulas are defused).

    Roles: viewer, owner, service, admin (a site-scoped token sees its sites' sessions)

    422 names each bad parameter (a time without an offset, `to` not after `from`, an
    unknown `status`).
    """
    if output == "csv" or (output is None and wants_csv(request.headers.get("accept"))):
        db: Database = request.app.state.db
        return StreamingResponse(
            csv_rows(db, ctx.who, filters),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="sessions.csv"'},
        )
    repo = ctx.uow.sessions
    page = await repo.page(filters.apply(ctx.who, repo.select()), limit, cursor)
    return ListOf(data=await _outs(ctx, request, page.items), next_cursor=page.next_cursor)


@router.get("/sessions/summary", summary="Session totals")
async def sessions_summary(ctx: Ctx, filters: Filters) -> SessionSummary:
    """Totals over every session the same filters as `GET /sessions` select (not one
    page): `count`, `by_status`, `energy_wh`/`energy_kwh`, `duration_s`, first and last
    start.

    Roles: viewer, owner, service, admin (a site-scoped token: its sites' sessions)

    422 names each bad parameter, as for the list.
    """
    return await summarise(ctx.uow, ctx.who, filters)


@router.get("/sessions/{session_id}", summary="Get a session")
async def get_session(session_id: uuid.UUID, ctx: Ctx, request: Request) -> SessionDetail:
    """One session with its first 1,000 meter samples (`meter_values`; all of them,
    paged, at `GET /sessions/{id}/meter-values`), energy, times, id tag, and whether it is
    `suspect` (open on a charger offline for long).

    Roles: viewer, owner, service, admin

    404 for an unknown session or one on a charger outside the token's sites.
    """
    session = await session_in_scope(ctx, session_id)
    values = await ctx.uow.meter_values.for_session(session.id, DETAIL_SAMPLES)
    (out,) = await _outs(ctx, request, [session])
    return SessionDetail.model_validate(
        {
            **out.model_dump(),
            "meter_values": [MeterValueOut.model_validate(v) for v in values],
        }
    )


@router.patch("/sessions/{session_id}", summary="Set a session's departure and energy wanted")
async def update_session(
    session_id: uuid.UUID, body: SessionDeadlineUpdate, ctx: Ctx, request: Request
) -> SessionOut:
    """Sets when the car leaves (`departure_at`, RFC 3339 with an offset) and how much
    energy it wants (`energy_wanted_wh`); only the fields sent change. What is set here
    wins over every other source (`departure_source`/`energy_wanted_source` become
    `api`); null clears the API's value and the next source takes over: the car's own
    (OCPP 2.0.1 NotifyEVChargingNeeds), the id tag's defaults, or a prediction from
    past sessions (docs/deadlines.md). The load manager re-plans at once.

    Roles: owner, service, admin (a site-scoped token: its sites' sessions)

    403 for a viewer. 404 for an unknown session or one outside the token's sites. 422
    names the field: `departure_at` without an offset, not after the session's start,
    or not in the future while the session is active; `energy_wanted_wh` not above 0 or
    above 1,000,000. Audited (event log) and published as `config.changed` and
    `session.updated`.
    """
    inputs = inputs_of(request.app.state.runtime)
    session = await set_deadline(ctx, session_id, body.model_dump(exclude_unset=True), inputs)
    (out,) = await _outs(ctx, request, [session])
    return out


@router.post("/sessions/{session_id}/actions/end", summary="End a session by hand")
async def end(session_id: uuid.UUID, body: EndSession, ctx: Ctx, request: Request) -> SessionOut:
    """Ends an open session by hand, with a `reason`: e.g. its charger went offline for
    good and the session holds current it does not draw. Nothing is sent to the
    charger; a later StopTransaction still completes the session with its real meter
    reading. The load manager frees its current.

    Roles: owner, service, admin

    403 for a viewer. 404 for an unknown session or one outside the token's sites. 409
    when it has ended already. 422 without a `reason` or with one too long. Audited:
    `ended_by` and `end_reason` on the session, the event log, and `session.stopped` on
    the bus (webhooks, event stream).
    """
    session = await end_session(ctx, session_id, body.reason)
    (out,) = await _outs(ctx, request, [session])
    return out


@router.get("/sessions/{session_id}/meter-values", summary="List a session's meter values")
async def list_meter_values(
    session_id: uuid.UUID, ctx: Ctx, limit: Limit = 500, cursor: Cursor = None
) -> ListOf[MeterValueOut]:
    """Every meter sample the charger sent for the session in the order received, up to
    500 a page: one row per value (`measurand`, `phase`, `unit`, `value`, `context`,
    `location`, `timestamp`), as the charger reported it.

    Roles: viewer, owner, service, admin

    404 for an unknown session or one outside the token's sites.
    """
    session = await session_in_scope(ctx, session_id)
    after = id_after(cursor)
    values = await ctx.uow.meter_values.for_session(session.id, limit + 1, after)
    more = len(values) > limit
    values = values[:limit]
    return ListOf(
        data=[MeterValueOut.model_validate(v) for v in values],
        next_cursor=encode_cursor(str(values[-1].id)) if more else None,
    )


async def csv_rows(db: Database, who: Principal, filters: SessionFilters) -> AsyncIterator[str]:
    """The header, then every matching session, newest first, a keyset page at a time:
    each page is its own short read, so a large export holds no transaction open and
    its memory stays one page (sessions added meanwhile may or may not appear)."""
    yield encode([COLUMNS])
    chargers: dict[uuid.UUID, tuple[str, uuid.UUID | None]] = {}
    sites: dict[uuid.UUID, tuple[str, str]] = {}
    cursor: str | None = None
    while True:
        async with UnitOfWork(db) as uow:
            repo = uow.sessions
            page = await repo.page(filters.apply(who, repo.select()), MAX_LIMIT, cursor)
            await _learn_places(uow, page.items, chargers, sites)
            # Rendered inside: leaving the unit of work expires the rows.
            now = utcnow()
            rows = []
            for session in page.items:
                ocpp_id, site_id = chargers.get(session.charger_id, (None, None))
                site = sites.get(site_id) if site_id else None
                rows.append(row_of(session, ocpp_id, site, now))
        yield encode(rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _learn_places(
    uow: UnitOfWork,
    sessions: Iterable[ChargingSession],
    chargers: dict[uuid.UUID, tuple[str, uuid.UUID | None]],
    sites: dict[uuid.UUID, tuple[str, str]],
) -> None:
    """Fill the caches with the chargers and sites of ``sessions`` not seen yet."""
    missing = {s.charger_id for s in sessions} - chargers.keys()
    if missing:
        rows = await uow.session.execute(
            select(Charger.id, Charger.ocpp_id, Charger.site_id).where(Charger.id.in_(missing))
        )
        chargers.update({r.id: (r.ocpp_id, r.site_id) for r in rows})
    wanted = {site for _, site in chargers.values() if site is not None} - sites.keys()
    if wanted:
        rows = await uow.session.execute(select(Site.id, Site.name).where(Site.id.in_(wanted)))
        sites.update({r.id: (str(r.id), r.name) for r in rows})


async def summarise(uow: UnitOfWork, who: Principal, filters: SessionFilters) -> SessionSummary:
    s = ChargingSession
    query = filters.apply(who, select(func.count(), func.coalesce(func.sum(s.energy_wh), 0.0)))
    count, energy = (await uow.session.execute(query)).one()
    # Durations depend on now and on status: summed here over three narrow columns
    # (a date difference is spelt differently on each database).
    spans = filters.apply(who, select(s.started_at, s.stopped_at, s.authorization_status))
    now = utcnow()
    duration = 0.0
    statuses: Counter[str] = Counter()
    first: datetime | None = None
    last: datetime | None = None
    async for row in await uow.session.stream(spans):
        probe = ChargingSession(
            started_at=row.started_at,
            stopped_at=row.stopped_at,
            authorization_status=row.authorization_status,
        )
        duration += session_duration_s(probe, now)
        statuses[session_status(probe)] += 1
        first = row.started_at if first is None else min(first, row.started_at)
        last = row.started_at if last is None else max(last, row.started_at)
    return SessionSummary(
        count=int(count),
        by_status=dict(statuses),
        energy_wh=float(energy),
        energy_kwh=round(float(energy) / 1000, 3),
        duration_s=round(duration, 3),
        first_started_at=first,
        last_started_at=last,
    )
