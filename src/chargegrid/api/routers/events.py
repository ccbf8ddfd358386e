"""``GET /events``: the durable event and audit log; ``GET /events/stream``: the event
bus live as server-sent events. Both filtered to the caller's sites."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from chargegrid.api.deps import Ctx, Who, get_bus
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, make_router
from chargegrid.api.schemas.common import ListOf, QueryTimestamp
from chargegrid.api.schemas.event_log import EventLogEntry
from chargegrid.bus.memory import Event, EventBus
from chargegrid.domain.errors import InvalidValue
from chargegrid.services.auth import Principal
from chargegrid.store import event_log
from chargegrid.store.pagination import encode_cursor, id_after

router = make_router("events")
KEEPALIVE_S = 15.0


def visible(who: Principal, event: Event) -> bool:
    site_id = event.payload.get("site_id")
    if who.unscoped:
        return True
    return site_id is not None and any(str(s) == site_id for s in who.site_ids or ())


def sse_frame(event: Event) -> str:
    data = json.dumps({"topic": event.topic, "at": event.at.isoformat(), **event.payload})
    return f"id: {event.id}\nevent: {event.topic}\ndata: {data}\n\n"


async def _stream(bus: EventBus, who: Principal, topics: list[str]) -> AsyncIterator[str]:
    async with bus.subscribe(topics or "*") as subscription:
        yield ": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(subscription.get(), KEEPALIVE_S)
            except TimeoutError:
                # A comment line keeps proxies from closing an idle stream.
                yield ": keepalive\n\n"
                continue
            if visible(who, event):
                yield sse_frame(event)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
    summary="Live events (server-sent events)",
)
async def event_stream(
    who: Who,
    bus: Annotated[EventBus, Depends(get_bus)],
    topic: Annotated[
        list[str] | None, Query(description="Topics or prefixes like session.*; all by default")
    ] = None,
) -> StreamingResponse:
    """The event bus live, as server-sent events: each frame's `event` is the topic
    (`charger.connected`, `session.updated`, `config.changed`, `site.load_changed` ...)
    and `data` the JSON payload with `topic` and `at`. Filter with `topic` (repeatable,
    prefixes like `session.*`). A comment line every 15 s keeps idle proxies from
    closing it. Nothing is replayed: what happened before the request is in
    `GET /events`.

    Roles: viewer, owner, service, admin (a site-scoped token gets only events naming
    one of its sites)

    The stream costs the rate limit only the request that opens it.
    """
    return StreamingResponse(
        _stream(bus, who, topic or []),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/events", summary="The event and audit log")
async def list_events(
    ctx: Ctx,
    site_id: SiteFilter = None,
    charger_id: Annotated[uuid.UUID | None, Query(description="Only this charger")] = None,
    at_from: Annotated[
        QueryTimestamp | None, Query(alias="from", description="At or after (ISO 8601)")
    ] = None,
    at_to: Annotated[QueryTimestamp | None, Query(alias="to", description="Before")] = None,
    event_type: Annotated[
        list[str] | None,
        Query(
            alias="type",
            max_length=50,
            description="Types or prefixes like charger.* or config.changed; all by default",
        ),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[EventLogEntry]:
    """The event and audit log, newest first: what chargers did (connected, booted,
    disconnected, status and errors with vendor codes, security events, sessions) and
    every configuration change with who made it (token name and role) and each field's
    old and new value. Filter by `site_id`, `charger_id`, `from`/`to` (on `at`) and
    `type` (repeatable, prefixes like `charger.*`); a page at a time. Entry fields and
    what each type holds: docs/api.md.

    Roles: viewer, owner, service, admin (a site-scoped token sees its sites' entries
    only)

    422 names the bad parameter: a time without an offset, `to` not after `from`.
    """
    if at_from and at_to and at_to <= at_from:
        raise InvalidValue.of("to", "must be after from")
    where = event_log.scope_clause(ctx.who.site_ids) & event_log.filters(
        site_id=site_id,
        charger_id=charger_id,
        at_from=at_from,
        at_to=at_to,
        types=event_type or (),
    )
    rows = await event_log.page(ctx.uow.session, where, limit + 1, id_after(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return ListOf(
        data=[EventLogEntry.model_validate(row._mapping) for row in rows],
        next_cursor=encode_cursor(str(rows[-1].id)) if more else None,
    )
