"""The control loop as an app component (``app.components_for``), and a one-off view
for an API process that runs without it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from chargegrid.balancing import allocate
from chargegrid.control.learner import SessionLearner
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.control.meters import MeterBook
from chargegrid.control.ports import SystemClock
from chargegrid.control.problem import Inputs, build_problem
from chargegrid.control.snapshot import load_site
from chargegrid.control.view import build_view
from chargegrid.domain.errors import Conflict
from chargegrid.store.db import Database

HANDLE = "control_loop"
CLUSTER_HANDLE = "cluster"  # cluster.component.HANDLE, not imported: a single node needs no nats
GATEWAY_HANDLES = ("ocpp_gateway", "gateway")


class RuntimeLike(Protocol):
    db: Database
    bus: Any
    handles: dict[str, Any]


class RuntimeGateway:
    """Finds the OCPP command gateway in the runtime at call time, so the components may
    start in any order; without an OCPP server every charger is offline."""

    def __init__(self, runtime: RuntimeLike, send_timeout: float = 5.0) -> None:
        self._runtime = runtime
        self._send_timeout = send_timeout  # for a gateway that can only send (below)

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Mapping[str, Any]:
        for name in GATEWAY_HANDLES:
            gateway = self._runtime.handles.get(name)
            if gateway is not None:
                answer: Mapping[str, Any] = await gateway.send(
                    ocpp_id, action, dict(payload), timeout
                )
                return answer
        raise Conflict(f"charger {ocpp_id} is offline (no OCPP server running)")

    async def start(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Any]:
        for name in GATEWAY_HANDLES:
            gateway = self._runtime.handles.get(name)
            if gateway is None:
                continue
            if hasattr(gateway, "start"):
                future: asyncio.Future[Any] = await gateway.start(ocpp_id, action, dict(payload))
                return future
            # A gateway that only sends: a task per call, its deadline the caller's.
            task: asyncio.Future[Any] = asyncio.ensure_future(
                gateway.send(ocpp_id, action, dict(payload), self._send_timeout)
            )
            return task
        raise Conflict(f"charger {ocpp_id} is offline (no OCPP server running)")


@asynccontextmanager
async def control_loop(runtime: RuntimeLike) -> AsyncIterator[ControlLoop]:
    settings = LoopSettings()
    gateway = RuntimeGateway(runtime, settings.apply.answer_timeout_s)
    cluster = runtime.handles.get(CLUSTER_HANDLE)
    if cluster is not None:
        # Cluster mode: only the sites this node holds leases for (imported only then).
        from chargegrid.cluster.site_owner import owned_control_loop

        async with owned_control_loop(runtime, cluster, settings, gateway) as owned:
            runtime.handles[HANDLE] = owned
            try:
                yield owned
            finally:
                runtime.handles.pop(HANDLE, None)
        return
    loop = ControlLoop(runtime.db.session, runtime.bus, gateway, settings)
    runtime.handles[HANDLE] = loop
    await loop.start()
    try:
        yield loop
    finally:
        await loop.stop()
        runtime.handles.pop(HANDLE, None)


async def preview_view(db: Database, site_id: uuid.UUID) -> dict[str, Any] | None:
    """The plan the loop would make now, knowing no meter reading and no charger answer
    (meters count as stale): for an API process without a running loop."""
    async with db.session() as session:
        snapshot = await load_site(session, site_id)
    if snapshot is None:
        return None
    clock = SystemClock()
    learner = SessionLearner()
    inputs = Inputs(
        now_wall=clock.utcnow(),
        now_mono=clock.monotonic(),
        learner=learner,
        meters=MeterBook(),
        held={},
        failsafe={},
        offline=frozenset(c.id for c in snapshot.chargers if not c.online),
    )
    built = build_problem(snapshot, inputs)
    return build_view(snapshot, built, allocate(built.problem), learner, inputs.now_wall)
