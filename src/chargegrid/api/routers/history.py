"""Load history: ``GET /sites/{id}/load/history``, ``/circuits/{id}/load/history`` and
``/sessions/{id}/load/history`` (docs/api.md "Load history")."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy import select

from chargegrid.api.deps import Who, get_db
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.history import NodeHistory, SessionHistory
from chargegrid.domain.errors import NotFound
from chargegrid.services.history_aggregate import Bucket
from chargegrid.services.history_query import History, plan_step, read_history
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.db import Database
from chargegrid.store.history_store import SqlHistoryStore
from chargegrid.store.models import Charger, ChargingSession, Circuit, Site

router = make_router("history")

From = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="Start (ISO 8601 with a zone); default: an hour before `to`"),
]
To = Annotated[AwareDatetime | None, Query(description="End, exclusive; default: now")]
Step = Annotated[
    int | None,
    Query(
        ge=1,
        le=31 * 86400,
        description="Seconds per point; default: about 720 points over the range",
    ),
]
_PHASES = ("l1", "l2", "l3")
_QUANTITIES = ("limit", "allocated", "measured", "unmanaged")
_DESCRIPTION = (
    "Buckets of `step` seconds from `from` to `to`: time-weighted averages and, under "
    "`max`, the largest value in each bucket. Full resolution is kept a day, then "
    "1-minute buckets for 30 days and 15-minute buckets for 13 months (configurable): a "
    "step finer than what is kept at `from` is raised to it. More than `max_points` "
    "(5000) points is a 422 naming `step`."
    "\n\nRoles: viewer, owner, service, admin"
    "\n\n404 when it is unknown or outside the token's sites. Reads the recorded history "
    "only: nothing is sent to chargers."
)


def _settings(request: Request) -> HistorySettings:
    history: HistorySettings = request.app.state.settings.history
    return history


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


async def _read(
    request: Request,
    db: Database,
    kind: str,
    ref_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    step: int | None,
) -> History:
    settings = _settings(request)
    now = int(time.time())
    end_s = int(end.timestamp()) if end is not None else now
    start_s = int(start.timestamp()) if start is not None else end_s - 3600
    plan = plan_step(settings, start_s, end_s, step, now)
    store = SqlHistoryStore(db.engine)
    series = await store.series(kind, ref_id)
    return await read_history(store, settings, series, plan, now)


def _envelope(kind: str, ref_id: uuid.UUID, site_id: uuid.UUID, history: History) -> dict[str, Any]:
    plan = history.plan
    return {
        "kind": kind,
        "id": str(ref_id),
        "site_id": str(site_id),
        "from": _iso(plan.start),
        "to": _iso(plan.end),
        "step": plan.step,
        "resolution": plan.resolution,
    }


def _node_values(values: tuple[float | None, ...]) -> dict[str, dict[str, float | None]]:
    return {
        phase: {q: values[qi * 3 + pi] for qi, q in enumerate(_QUANTITIES)}
        for pi, phase in enumerate(_PHASES)
    }


def _node_point(bucket: Bucket) -> dict[str, Any]:
    return {
        "t": _iso(bucket.t),
        "coverage_s": bucket.n,
        "phases": _node_values(bucket.avg),
        "max": _node_values(bucket.max),
    }


def _session_values(values: tuple[float | None, ...]) -> dict[str, Any]:
    return {
        "limit": values[0],
        "phases": values[1],
        "measured": dict(zip(_PHASES, values[2:5], strict=True)),
        "power_w": values[5],
    }


def _session_point(bucket: Bucket) -> dict[str, Any]:
    return {
        "t": _iso(bucket.t),
        "coverage_s": bucket.n,
        **_session_values(bucket.avg),
        "max": _session_values(bucket.max),
    }


@router.get(
    "/sites/{site_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": NodeHistory}},
    summary="A site's load over time",
    description="Per phase: limit, allocated, measured, unmanaged. " + _DESCRIPTION,
)
async def site_history(
    site_id: uuid.UUID,
    request: Request,
    who: Who,
    db: Annotated[Database, Depends(get_db)],
    start: From = None,
    to: To = None,
    step: Step = None,
) -> JSONResponse:
    who.check_site(site_id, "site")
    async with db.session() as session:
        found = await session.scalar(select(Site.id).where(Site.id == site_id))
    if found is None:
        raise NotFound("no such site")
    history = await _read(request, db, "site", site_id, start, to, step)
    body = _envelope("site", site_id, site_id, history)
    body["points"] = [_node_point(b) for b in history.buckets]
    return JSONResponse(body)


@router.get(
    "/circuits/{circuit_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": NodeHistory}},
    summary="A circuit's load over time",
    description="Per phase: limit, allocated, measured, unmanaged. " + _DESCRIPTION,
)
async def circuit_history(
    circuit_id: uuid.UUID,
    request: Request,
    who: Who,
    db: Annotated[Database, Depends(get_db)],
    start: From = None,
    to: To = None,
    step: Step = None,
) -> JSONResponse:
    async with db.session() as session:
        site_id = await session.scalar(select(Circuit.site_id).where(Circuit.id == circuit_id))
    if site_id is None:
        raise NotFound("no such circuit")
    who.check_site(site_id, "circuit")
    history = await _read(request, db, "circuit", circuit_id, start, to, step)
    body = _envelope("circuit", circuit_id, site_id, history)
    body["points"] = [_node_point(b) for b in history.buckets]
    return JSONResponse(body)


@router.get(
    "/sessions/{session_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": SessionHistory}},
    summary="A session's limit and draw over time",
    description="The limit the load manager set, its phases, the measured current per grid "
    "phase and the power the charger reported. " + _DESCRIPTION,
)
async def session_history(
    session_id: uuid.UUID,
    request: Request,
    who: Who,
    db: Annotated[Database, Depends(get_db)],
    start: From = None,
    to: To = None,
    step: Step = None,
) -> JSONResponse:
    async with db.session() as session:
        row = (
            await session.execute(
                select(ChargingSession.id, Charger.site_id)
                .join(Charger, Charger.id == ChargingSession.charger_id)
                .where(ChargingSession.id == session_id)
            )
        ).first()
    if row is None or row.site_id is None:
        raise NotFound("no such session")
    who.check_site(row.site_id, "session")
    history = await _read(request, db, "session", session_id, start, to, step)
    body = _envelope("session", session_id, row.site_id, history)
    body["points"] = [_session_point(b) for b in history.buckets]
    return JSONResponse(body)
