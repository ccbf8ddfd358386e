"""Load history: ``GET /sites/{id}/load/history``, ``/circuits/{id}/load/history`` and
``/sessions/{id}/load/history`` (docs/api.md "Load history")."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from chargegrid.api.deps import Who, get_db
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.common import QueryTimestamp
from chargegrid.api.schemas.history import NodeHistory, SessionHistory
from chargegrid.domain.errors import NotFound
from chargegrid.services.auth import Principal
from chargegrid.services.history_aggregate import Bucket
from chargegrid.services.history_query import plan_step, read_history
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.db import Database
from chargegrid.store.history_store import SqlHistoryStore
from chargegrid.store.models import Charger, ChargingSession, Circuit, Site

router = make_router("history")

From = Annotated[
    QueryTimestamp | None,
    Query(alias="from", description="Start (ISO 8601 with a zone); default: an hour before `to`"),
]
To = Annotated[QueryTimestamp | None, Query(description="End, exclusive; default: now")]
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


@dataclass(frozen=True, slots=True)
class Window:
    """The query parameters every history answer takes."""

    start: From = None
    to: To = None
    step: Step = None


_SITE_OF: dict[str, Any] = {
    "site": lambda ref: select(Site.id).where(Site.id == ref),
    "circuit": lambda ref: select(Circuit.site_id).where(Circuit.id == ref),
    "session": lambda ref: (
        select(Charger.site_id)
        .join(ChargingSession, Charger.id == ChargingSession.charger_id)
        .where(ChargingSession.id == ref)
    ),
}
_POINT = {"site": "node", "circuit": "node", "session": "session"}


async def _answer(
    request: Request, db: Database, who: Principal, kind: str, ref_id: uuid.UUID, window: Window
) -> JSONResponse:
    """Authorise by the thing's site, read at the planned step, shape the points."""
    async with db.session() as session:
        site_id = await session.scalar(_SITE_OF[kind](ref_id))
    if site_id is None:
        raise NotFound(f"no such {kind}")
    who.check_site(site_id, kind)
    settings = _settings(request)
    now = int(time.time())
    end = int(window.to.timestamp()) if window.to is not None else now
    start = int(window.start.timestamp()) if window.start is not None else end - 3600
    plan = plan_step(settings, start, end, window.step, now)
    store = SqlHistoryStore(db.engine)
    history = await read_history(store, settings, await store.series(kind, ref_id), plan, now)
    point = _node_point if _POINT[kind] == "node" else _session_point
    return JSONResponse(
        {
            "kind": kind,
            "id": str(ref_id),
            "site_id": str(site_id),
            "from": _iso(plan.start),
            "to": _iso(plan.end),
            "step": plan.step,
            "resolution": plan.resolution,
            "points": [point(b) for b in history.buckets],
        }
    )


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


Params = Annotated[Window, Depends()]
DbDep = Annotated[Database, Depends(get_db)]
_NODE_DESCRIPTION = "Per phase: limit, allocated, measured, unmanaged. " + _DESCRIPTION


@router.get(
    "/sites/{site_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": NodeHistory}},
    summary="A site's load over time",
    description=_NODE_DESCRIPTION,
)
async def site_history(
    site_id: uuid.UUID, request: Request, who: Who, db: DbDep, window: Params
) -> JSONResponse:
    return await _answer(request, db, who, "site", site_id, window)


@router.get(
    "/circuits/{circuit_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": NodeHistory}},
    summary="A circuit's load over time",
    description=_NODE_DESCRIPTION,
)
async def circuit_history(
    circuit_id: uuid.UUID, request: Request, who: Who, db: DbDep, window: Params
) -> JSONResponse:
    return await _answer(request, db, who, "circuit", circuit_id, window)


@router.get(
    "/sessions/{session_id}/load/history",
    response_class=JSONResponse,
    responses={200: {"model": SessionHistory}},
    summary="A session's limit and draw over time",
    description="The limit the load manager set, its phases, the measured current per grid "
    "phase and the power the charger reported. " + _DESCRIPTION,
)
async def session_history(
    session_id: uuid.UUID, request: Request, who: Who, db: DbDep, window: Params
) -> JSONResponse:
    return await _answer(request, db, who, "session", session_id, window)
