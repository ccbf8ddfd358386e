"""Wiring: the FastAPI app, and the runtime that serves it beside the other components.

Everything runs in ONE event loop: uvicorn (programmatically), the OCPP server, the
control loop, the demo simulator. Each of those is a *component*: a callable that takes
the :class:`Runtime` and returns an async context manager; it starts on enter and stops
on exit. ``components_for`` lists them; add yours there with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from chargegrid import metrics
from chargegrid.api import docs_page, openapi_links, problems, rate_limit
from chargegrid.api.access_log import AccessLog
from chargegrid.api.routers import all_routers, health, load
from chargegrid.bus.memory import EventBus
from chargegrid.bus_log import bus_log
from chargegrid.compat import mount_surface, surfaces
from chargegrid.config import Settings
from chargegrid.control.component import control_loop
from chargegrid.events import SITE_LOAD_CHANGED
from chargegrid.ocpp.component import ocpp_server
from chargegrid.services.auth import PrincipalCache
from chargegrid.services.configure.expiry import expire_overrides_forever
from chargegrid.services.deadline_component import deadline_inputs
from chargegrid.services.event_log import event_recorder
from chargegrid.services.history_component import load_history
from chargegrid.services.revocations import revocation_watch
from chargegrid.services.webhooks import WebhookDispatcher
from chargegrid.sim.demo import demo_fleet
from chargegrid.store.db import Database, is_sqlite
from chargegrid.store.migrate import upgrade
from chargegrid.store.pki_store import SqlPkiStore
from chargegrid.store.security_store import SqlSecurityStore
from chargegrid.store.timed_charger_store import TimedSqlChargerStore

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


@dataclass
class Runtime:
    """What the components share. ``handles`` lets a component expose itself (e.g. the
    OCPP command gateway) to others and to routers, via ``app.state.runtime``."""

    settings: Settings
    db: Database
    bus: EventBus
    handles: dict[str, Any] = field(default_factory=dict)


Component = Callable[[Runtime], AbstractAsyncContextManager[object]]


@asynccontextmanager
async def override_expiry(runtime: Runtime) -> AsyncIterator[None]:
    """Lapses available-current overrides whose TTL ran out, and says so on the bus."""
    task = asyncio.create_task(expire_overrides_forever(runtime.db, runtime.bus))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def webhook_delivery(runtime: Runtime) -> AsyncIterator[WebhookDispatcher]:
    """POSTs subscribed events to webhook receivers, signed, with retries."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        cluster = runtime.handles.get("cluster")  # cluster mode: each event from its node
        node_id = cluster.node_id if cluster is not None else None
        dispatcher = WebhookDispatcher(runtime.db, runtime.bus, client, node_id=node_id)
        task = asyncio.create_task(dispatcher.run())
        metrics.RUNTIME.webhooks = dispatcher  # its counts, read at each scrape
        try:
            yield dispatcher
        finally:
            metrics.RUNTIME.webhooks = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await dispatcher.close()


@asynccontextmanager
async def load_metrics(runtime: Runtime) -> AsyncIterator[None]:
    """Keeps each site's latest live-load view for ``/metrics`` (limit, allocated,
    measured, unmanaged per node and phase)."""

    async def follow() -> None:
        with runtime.bus.subscribe(SITE_LOAD_CHANGED, maxsize=100) as subscription:
            async for event in subscription:
                site_id = event.payload.get("site_id")
                if isinstance(site_id, str):
                    metrics.RUNTIME.views[site_id] = event.payload

    task = asyncio.create_task(follow(), name="load-metrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        metrics.RUNTIME.views.clear()


def ocpp_listener(runtime: Runtime) -> AbstractAsyncContextManager[Any]:
    """The OCPP server on the SQL stores of the runtime's database: chargers (timed for
    /metrics), the built-in CA, and security (events, rotations' pending passwords)."""
    engine = runtime.db.engine
    return ocpp_server(
        runtime, TimedSqlChargerStore(engine), SqlPkiStore(engine), SqlSecurityStore(engine)
    )


def cluster_component(runtime: Runtime) -> AbstractAsyncContextManager[Any]:
    """Cluster mode (``--nats-url``, docs/cluster.md): NATS link, bus bridge, charger
    locations, command routing. Imported only then: a single node never loads nats."""
    from chargegrid.cluster.component import cluster_node

    return cluster_node(runtime)


def cluster_rate_limits(runtime: Runtime) -> AbstractAsyncContextManager[Any]:
    """Cluster mode: a token's rate limit is one budget for the cluster (imported only
    then, like the cluster component)."""
    from chargegrid.cluster.shared_limits import shared_rate_limits

    return shared_rate_limits(runtime)


def components_for(settings: Settings) -> list[Component]:
    """The components ``chargegrid serve`` starts, in order (stopped in reverse)."""
    components: list[Component] = [
        bus_log,
        load_metrics,
        override_expiry,
        webhook_delivery,
        revocation_watch,  # a revoked token stops within a second (on every node)
        event_recorder,  # before the OCPP server: no boot goes unrecorded
        deadline_inputs,  # before the OCPP server: no session starts unseen
        ocpp_listener,
        control_loop,
    ]
    if settings.nats_url:
        components.insert(0, cluster_component)  # first: every event and socket it sees
        components.insert(1, cluster_rate_limits)
    if settings.history.enabled:
        components.append(load_history)  # after the loop: its last flush sees the views
    if settings.demo:
        components.append(demo_fleet)  # after the OCPP server: it connects to it
    return components


def build_app(
    settings: Settings,
    *,
    db: Database | None = None,
    bus: EventBus | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    """The REST API (and dashboard) as an ASGI app. Without ``db`` it opens its own
    database from ``settings`` and closes it on shutdown; migrations are the caller's."""
    own_db = db is None and runtime is None
    if runtime is None:
        runtime = Runtime(settings, db or Database(settings.database_url), bus or EventBus())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_db:
            await runtime.db.dispose()

    app = FastAPI(
        title="chargegrid",
        version="1",
        description="Charge point management with a phase-aware load manager (API.md).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # api/docs_page.py: Swagger UI from our own files, not a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.db = runtime.db
    app.state.bus = runtime.bus
    app.state.principals = runtime.handles["principals"] = PrincipalCache()
    problems.install(app)
    rate_limit.install(app, settings)
    runtime.handles["rate_limiter"] = app.state.rate_limiter  # shared in cluster mode
    # Outermost of ours: it sees every answer, 429s and problem+json errors included.
    app.add_middleware(AccessLog, state=app.state)
    for router in all_routers():
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(load.metrics_router)  # /metrics for Prometheus, outside /api/v1
    app.include_router(health.router)  # /healthz, /readyz
    openapi_links.install(app, API_PREFIX)
    docs_page.install(app, API_PREFIX)
    for surface in surfaces():  # /compat/<vendor>: vendors' shapes over the same services
        mount_surface(app, surface)

    _mount_dashboard(app)
    return app


def _mount_dashboard(app: FastAPI) -> None:
    try:
        from chargegrid.web.mount import mount
    except ImportError:  # a build without the dashboard still serves the API
        return
    mount(app)


async def serve(settings: Settings) -> None:
    """``chargegrid serve``: migrate, start every component, serve HTTP until stopped."""
    if settings.nats_url and is_sqlite(settings.database_url):
        raise SystemExit(
            "chargegrid: cluster mode (--nats-url) needs PostgreSQL: every node shares "
            "one database (--database-url postgresql+asyncpg://...)"
        )
    db = Database(settings.database_url, echo=settings.sql_echo)
    try:
        await upgrade(db.engine)  # on PostgreSQL under an advisory lock: once per cluster
        runtime = Runtime(settings, db, EventBus())
        if settings.demo:
            from chargegrid.demo_token import demo_admin_token, token_file

            token = await demo_admin_token(db, token_file(settings.database_url))
            runtime.handles["demo_admin_token"] = token
            # The fragment (#token=) stays in the browser; the dashboard signs in with it.
            print(
                f"Demo site ready.\nDashboard: http://{settings.host}:{settings.port}/#token={token}"
                f"\nAdmin API token (Authorization: Bearer ...):\n{token}",
                flush=True,
            )
        app = build_app(settings, runtime=runtime)
        # Logging is chargegrid.logging_setup's (one format for every line); the access
        # log is api/access_log.py's, with the route and the caller's role.
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=None,
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        async with AsyncExitStack() as stack:
            for component in components_for(settings):
                await stack.enter_async_context(component(runtime))
            # Everything built at start-up (imports, app, compiled schemas, caches) lives
            # as long as the process: moving it out of the collector's generations keeps
            # full collections short, which is what held the allocator's p99 above 10 ms
            # (bench/results/allocator.md). Done once, after start-up, never again.
            gc.freeze()
            await server.serve()
    finally:
        await db.dispose()
