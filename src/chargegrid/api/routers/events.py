"""``GET /events/stream``: the event bus as server-sent events, filtered to the caller's sites."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from chargegrid.api.deps import Who, get_bus
from chargegrid.api.routers.common import make_router
from chargegrid.bus.memory import Event, EventBus
from chargegrid.services.auth import Principal

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
)
async def event_stream(
    who: Who,
    bus: Annotated[EventBus, Depends(get_bus)],
    topic: Annotated[
        list[str] | None, Query(description="Topics or prefixes like session.*; all by default")
    ] = None,
) -> StreamingResponse:
    return StreamingResponse(
        _stream(bus, who, topic or []),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
