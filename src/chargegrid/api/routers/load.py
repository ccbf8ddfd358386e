"""Live load: ``GET /sites/{id}/load``, its SSE stream (docs/load-api.md), and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chargegrid.api.deps import Who, get_bus, get_db
from chargegrid.api.routers.common import make_router
from chargegrid.bus.memory import EventBus
from chargegrid.control.component import HANDLE, preview_view
from chargegrid.control.loop import ControlLoop
from chargegrid.domain.errors import NotFound
from chargegrid.events import SITE_LOAD_CHANGED
from chargegrid.store.db import Database

router = make_router("load")
metrics_router = APIRouter(tags=["metrics"])
KEEPALIVE_S = 15.0


async def site_view(request: Request, db: Database, site_id: uuid.UUID) -> dict[str, Any]:
    """The load view of a site (the running loop's, else a preview); NotFound for none.
    The vendor surfaces (compat/) read it too."""
    loop: ControlLoop | None = request.app.state.runtime.handles.get(HANDLE)
    view = await loop.current_view(str(site_id)) if loop is not None else None
    if view is None:
        view = await preview_view(db, site_id)
    if view is None:
        raise NotFound("no such site")
    return view


@router.get("/sites/{site_id}/load", summary="A site's live load")
async def site_load(
    site_id: uuid.UUID,
    request: Request,
    who: Who,
    db: Annotated[Database, Depends(get_db)],
) -> JSONResponse:
    """The load manager's view of the site now. Per node (the main fuse and each
    circuit) and grid phase: `limit`, `allocated`, `measured`, `unmanaged`, headroom;
    per session: its `limit`, `phases`, the grid phases it loads, `measured` and the
    `reason` for its limit. On a process without the control loop, a preview computed
    from the database. Fields: docs/load-api.md.

    Roles: viewer, owner, service, admin

    404 for an unknown site or one outside the token's sites. Reads only: nothing is
    sent to chargers.
    """
    who.check_site(site_id, "site")
    return JSONResponse(await site_view(request, db, site_id))


def _frame(view: dict[str, Any]) -> str:
    return f"event: load\ndata: {json.dumps(view, separators=(',', ':'))}\n\n"


async def _stream(
    first: dict[str, Any], bus: EventBus, site_id: str, subscription: Any
) -> AsyncIterator[str]:
    async with subscription:
        yield _frame(first)
        while True:
            try:
                event = await asyncio.wait_for(subscription.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"  # keeps proxies from closing an idle stream
                continue
            if event.payload.get("site_id") == site_id:
                yield _frame(event.payload)


@router.get(
    "/sites/{site_id}/load/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE: event `load`"}},
    summary="A site's live load as a stream",
)
async def site_load_stream(
    site_id: uuid.UUID,
    request: Request,
    who: Who,
    db: Annotated[Database, Depends(get_db)],
    bus: Annotated[EventBus, Depends(get_bus)],
) -> StreamingResponse:
    """Server-sent events named `load`: the same view as `GET /sites/{id}/load` now,
    then again each time the load manager changes it (`site.load_changed`); a comment
    line every 15 s keeps idle proxies from closing it.

    Roles: viewer, owner, service, admin

    404 for an unknown site or one outside the token's sites. The stream costs the rate
    limit only the request that opens it.
    """
    who.check_site(site_id, "site")
    # Subscribe before reading the view, so no change between the two is lost.
    subscription = bus.subscribe(SITE_LOAD_CHANGED, maxsize=100)
    try:
        first = await site_view(request, db, site_id)
    except BaseException:
        subscription.close()
        raise
    return StreamingResponse(
        _stream(first, bus, str(site_id), subscription),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
