"""Probes for an orchestrator: ``/healthz`` (the process answers) and ``/readyz`` (it can
serve: the database answers and its schema is at the migrations' head; in cluster mode,
NATS is connected too). Outside ``/api/v1`` and without a token, like ``/metrics``
(``routers/load.py``)."""

from __future__ import annotations

import asyncio
from functools import cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from chargegrid.api.problems import problem
from chargegrid.store.db import Database
from chargegrid.store.migrate import alembic_config, current_revision

router = APIRouter(include_in_schema=False)

# A probe that hangs is worse than one that fails: the orchestrator's own timeout would
# report "no answer" where a 503 says which check failed.
READY_TIMEOUT_S = 2.0
CLUSTER_HANDLE = "cluster"  # cluster.component.HANDLE (cluster mode only)


@cache
def head_revisions() -> frozenset[str]:
    """The migrations this build ships end at these heads (read once: they never change
    while the process runs)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    cluster = request.app.state.runtime.handles.get(CLUSTER_HANDLE)
    if cluster is not None and not cluster.ready():  # cluster mode, NATS lost
        return problem(
            503, "not connected to NATS: commands and events cannot reach the other nodes"
        )
    db: Database = request.app.state.db
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            revision = await current_revision(db.engine)
    except TimeoutError:
        return problem(503, f"database did not answer within {READY_TIMEOUT_S:g} s")
    except Exception as exc:  # any driver error: the probe's job is to say so
        return problem(503, f"database unreachable: {type(exc).__name__}: {exc}")
    heads = head_revisions()
    if revision not in heads:
        want = ", ".join(sorted(heads))
        return problem(
            503,
            f"database schema at {revision or 'no revision'}, this build needs {want}: "
            "run `chargegrid db upgrade`",
        )
    return JSONResponse({"status": "ready", "revision": revision})
