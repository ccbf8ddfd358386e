"""Cluster mode as an app component (``app.components_for``, first of all when
``settings.nats_url`` is set): the NATS link, the bus bridge, the charger location
registry and this node's presence, started before the OCPP server so no connection goes
unrecorded, and stopped after it so every socket's entry is released.

The OCPP component asks :meth:`ClusterNode.route` for the gateway it publishes: the
routed one (``routing``) in place of its own, so the REST actions, the control loop and
everything else that commands a charger reach it on whichever node holds it. A node that
holds a charger contradicts another node's late ``charger.disconnected`` for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import update

from chargegrid import events
from chargegrid.bus.memory import EventBus
from chargegrid.cluster.events import EventBridge
from chargegrid.cluster.locations import ChargerLocations
from chargegrid.cluster.nats_link import ClusterConfigError, NatsLink, NodeIdentity
from chargegrid.cluster.nodes import NodePresence
from chargegrid.cluster.routing import RoutedGateway
from chargegrid.config import Settings
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.store.charger_store import chargers
from chargegrid.store.db import Database

log = logging.getLogger(__name__)

HANDLE = "cluster"
SUPERSEDED_CHECK_S = 1.0


class RuntimeLike(Protocol):
    settings: Settings
    db: Database
    bus: EventBus
    handles: dict[str, Any]


class ClusterNode:
    """What this node's cluster parts are, for the other components and the API."""

    def __init__(
        self, link: NatsLink, bus: EventBus, bridge: EventBridge, locations: ChargerLocations
    ) -> None:
        self.link = link
        self.bridge = bridge
        self.locations = locations
        self.presence = NodePresence(link, count=locations.held)
        self.gateway: RoutedGateway | None = None
        self._central: OcppCentralSystem | None = None
        # Other nodes' charger.disconnected, to contradict where this node holds it.
        self._disconnects = bus.subscribe(events.CHARGER_DISCONNECTED, maxsize=100_000)
        self._contradicting: asyncio.Task[None] | None = None

    @property
    def node_id(self) -> str:
        return self.link.node_id

    def ready(self) -> bool:
        """Connected to NATS (``/readyz``): commands and events can reach the others."""
        return self.link.connected

    def holds(self, ocpp_id: str) -> bool:
        return self.gateway is not None and self.gateway.local.is_connected(ocpp_id)

    async def route(self, central: OcppCentralSystem) -> RoutedGateway:
        """The gateway the OCPP component publishes in cluster mode."""
        self._central = central
        self.gateway = RoutedGateway(self.link, central.gateway, self.locations)
        await self.gateway.listen()
        self._contradicting = asyncio.create_task(self._contradict_stale_disconnects())
        return self.gateway

    async def close(self) -> None:
        self._disconnects.close()
        if self._contradicting is not None:
            self._contradicting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._contradicting
        if self.gateway is not None:
            await self.gateway.close()

    async def _contradict_stale_disconnects(self) -> None:
        """Another node says a charger went offline that is connected *here* (its old
        socket there ended as this node took the new one, or its event arrived after
        ours): the charger is online, in the database and for every node's control loop,
        so say it again."""
        async for event in self._disconnects:
            ocpp_id = str(event.payload.get("ocpp_id", ""))
            if event.origin is None or not self.holds(ocpp_id) or self._central is None:
                continue
            try:
                record = await self._central.store.charger(ocpp_id)
                version = self.locations.version_of(ocpp_id)
                if record is not None and version is not None:
                    await self._central.messages.connected(record, version)
                    log.info("%s: node %s said it left; it is here", ocpp_id, event.origin)
            except Exception:  # the next heartbeat marks it online anyway
                log.exception("%s: could not contradict a stale disconnect", ocpp_id)

    async def superseded(self, ocpp_id: str) -> bool:
        """Has a newer connection of ``ocpp_id`` (on another node) replaced the one
        that just ended here? Then that ending is not news (OcppServer)."""
        try:
            async with asyncio.timeout(SUPERSEDED_CHECK_S):
                return await self.locations.release_if_superseded(ocpp_id)
        except Exception as exc:  # NATS away: say it ended (the safe side: offline)
            log.info("%s: could not ask where it is now (%s)", ocpp_id, exc)
            return False


@asynccontextmanager
async def cluster_node(runtime: RuntimeLike) -> AsyncIterator[ClusterNode]:
    settings = runtime.settings
    if not settings.nats_url:
        raise RuntimeError("cluster_node needs settings.nats_url")
    try:
        identity = NodeIdentity.of(settings)
        link = await NatsLink.connect(settings.nats_url, identity, settings.cluster_name)
    except ClusterConfigError as exc:
        raise SystemExit(f"chargegrid: {exc}") from None
    link.connection_gauge()
    bridge = EventBridge(link, runtime.bus)
    node: ClusterNode | None = None
    try:
        await bridge.start()
        locations = ChargerLocations(
            link, runtime.bus, lambda o: node is not None and node.holds(o)
        )
        node = ClusterNode(link, runtime.bus, bridge, locations)
        await _forget_presence(runtime.db, await locations.start())
        try:
            await node.presence.start()
        except ClusterConfigError as exc:
            raise SystemExit(f"chargegrid: {exc}") from None
        runtime.handles[HANDLE] = node
        log.info(
            "cluster %s: node %s on NATS %s (API %s, OCPP %s)",
            link.cluster,
            identity.node_id,
            link.nc.connected_url.netloc if link.nc.connected_url else "?",
            identity.api_url,
            identity.ocpp_url,
        )
        yield node
    finally:
        runtime.handles.pop(HANDLE, None)
        if node is not None:
            await node.close()
            await node.presence.stop()
            await node.locations.stop()
        await bridge.stop()
        await link.close()


async def _forget_presence(db: Database, ocpp_ids: Sequence[str]) -> None:
    """The chargers this node held when it last stopped (or died) are offline now,
    unless they have reconnected elsewhere since (then their entry is another node's
    and not in ``ocpp_ids``). Chargers other nodes hold stay as they are."""
    if not ocpp_ids:
        return
    async with db.engine.begin() as conn:
        await conn.execute(
            update(chargers).where(chargers.c.ocpp_id.in_(list(ocpp_ids))).values(online=False)
        )
