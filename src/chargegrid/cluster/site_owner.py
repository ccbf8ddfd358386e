"""One balancer per site: which node runs each site's control loop (docs/cluster.md).

Each node holds a lease ``site.<id>`` (cluster/leases.py) for every site it runs, and
one ``node.<id>`` that says it takes part. Sites are spread by rendezvous hashing over
the taking part nodes: adding a node moves only the sites that now hash to it, and only
those. A move is a hand-over in order: the old owner stops the site's loop, writes what
it booked and deletes its lease; the new one, trying each ``tick_s``, then creates it
and starts from those bookings. A site whose preferred node does not take it within
``orphan_s`` is taken by whoever sees it free first (a node that died: its leases lapse
after the TTL; one that is up but not taking sites).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from nats.js.errors import NoKeysError
from sqlalchemy import select

from chargegrid.cluster import metrics
from chargegrid.cluster.leases import KeyValueLike, Leases, LeaseSettings
from chargegrid.control.held_journal import SqlHeldJournal
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.store import models as m

log = logging.getLogger(__name__)

BUCKET = "leases"  # <cluster>_leases
HANDLE = "site_owner"
SITE = "site."
NODE = "node."


def preferred_node(site_id: str, nodes: Iterable[str]) -> str | None:
    """Rendezvous (highest random weight) hashing: every node computes the same owner
    from the same set, and a node joining or leaving moves only its own share."""
    best: tuple[bytes, str] | None = None
    for node in nodes:
        weight = hashlib.sha256(f"{node}/{site_id}".encode()).digest()
        if best is None or weight > best[0]:
            best = (weight, node)
    return best[1] if best is not None else None


class SiteOwner:
    """Takes, keeps and hands on this node's sites. ``adopt``/``drop`` are the control
    loop's (``ControlLoop.adopt``/``drop``); ``sites`` lists every site there is."""

    def __init__(
        self,
        kv: KeyValueLike,
        node_id: str,
        sites: Callable[[], Awaitable[list[str]]],
        adopt: Callable[[str], Awaitable[object]],
        drop: Callable[[str], Awaitable[None]],
        settings: LeaseSettings | None = None,
        *,
        tick_s: float = 0.5,
        orphan_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        rebind: Callable[[], Awaitable[KeyValueLike]] | None = None,
    ) -> None:
        self.node_id = node_id
        self._sites = sites
        self._adopt = adopt
        self._drop = drop
        self.tick_s = tick_s
        self.orphan_s = orphan_s
        self.clock = clock
        self.leases = Leases(
            kv, node_id, settings, on_acquired=self._acquired, on_lost=self._lost, clock=clock
        )
        self._free_since: dict[str, float] = {}
        self._rebind = rebind  # the bucket anew (a restarted NATS may have lost it)
        self._takes_after = 0.0  # monotonic: no new lease before (see ``reconnected``)
        self._task: asyncio.Task[None] | None = None
        # Seconds from taking a lease to the site's loop running, per takeover (metrics).
        self.takeovers: list[tuple[str, float]] = []

    # --- what the loop's fence and the API read ---------------------------------------

    def holds(self, site_id: str) -> bool:
        return self.leases.holds(SITE + site_id)

    def owned(self) -> list[str]:
        return sorted(k[len(SITE) :] for k in self.leases.held() if k.startswith(SITE))

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.leases.start()
        await self.leases.acquire(NODE + self.node_id)
        await self.tick()
        self._task = asyncio.create_task(self._run(), name=f"site-owner:{self.node_id}")

    async def stop(self) -> None:
        """Hand every site on (graceful: the others take them at once)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.leases.stop(release=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:  # NATS or the database away: the next tick tries again
                log.exception("site ownership tick failed")

    # --- one look at the cluster ------------------------------------------------------

    async def reconnected(self) -> None:
        """NATS came back. If it came back without the bucket, every lease is gone while
        their holders may still run their sites until their deadlines: take no lease
        for a TTL (by then every holder that could not renew has stopped). Leases held
        here renew as before, or end."""
        self._takes_after = self.clock() + self.leases.settings.ttl_s
        if self._rebind is not None:
            self.leases.kv = await self._rebind()

    async def tick(self) -> None:
        if not self.leases.holds(NODE + self.node_id):
            await self.leases.acquire(NODE + self.node_id)  # taking part (again)
        keys = await self._keys()
        nodes = {k[len(NODE) :] for k in keys if k.startswith(NODE)} | {self.node_id}
        taken = {k[len(SITE) :] for k in keys if k.startswith(SITE)}
        sites = await self._sites()
        now = self.clock()
        wanted: list[str] = []
        for site_id in sites:
            mine = self.holds(site_id)
            preferred = preferred_node(site_id, nodes)
            if mine:
                if preferred != self.node_id:
                    await self.leases.release(SITE + site_id)  # stop, write, delete
                continue
            if site_id in taken:
                self._free_since.pop(site_id, None)
                continue
            free_since = self._free_since.setdefault(site_id, now)
            if now < self._takes_after:
                continue
            if preferred == self.node_id or now - free_since >= self.orphan_s:
                wanted.append(site_id)
        for site_id in set(self.owned()) - set(sites):  # deleted sites
            await self.leases.release(SITE + site_id)
        await asyncio.gather(*(self.leases.acquire(SITE + s) for s in wanted))

    async def _keys(self) -> list[str]:
        try:
            keys: list[str] = await self.leases.kv.keys()  # type: ignore[attr-defined]
        except NoKeysError:
            return []
        return keys

    async def _acquired(self, key: str) -> None:
        if not key.startswith(SITE):
            return
        site_id = key[len(SITE) :]
        self._free_since.pop(site_id, None)
        started = self.clock()
        await self._adopt(site_id)
        took = self.clock() - started
        self.takeovers.append((site_id, took))
        metrics.SITE_ADOPTIONS.inc()
        metrics.ADOPTION_SECONDS.observe(took)
        metrics.SITES_OWNED.set(len(self.owned()))
        log.info("site %s: owned by %s (adopted in %.0f ms)", site_id, self.node_id, took * 1e3)

    async def _lost(self, key: str) -> None:
        if key.startswith(SITE):
            await self._drop(key[len(SITE) :])
            metrics.SITES_LOST.inc()
            metrics.SITES_OWNED.set(len(self.owned()))


class _Guard:
    """The loop's fence, answered by the site owner once it exists."""

    def __init__(self) -> None:
        self.owner: SiteOwner | None = None

    def holds(self, site_id: str) -> bool:
        return self.owner is not None and self.owner.holds(site_id)


@asynccontextmanager
async def owned_control_loop(
    runtime: Any, cluster: Any, settings: LoopSettings, gateway: Any
) -> AsyncIterator[ControlLoop]:
    """The control loop of a cluster node: it runs only the sites whose leases this
    node holds, books for their next owner in ``held_limits``, and hands its sites on
    when it stops (``control.component.control_loop`` in cluster mode)."""
    lease_settings = LeaseSettings()
    kv = await cluster.link.bucket(BUCKET, ttl=lease_settings.ttl_s)
    journal = SqlHeldJournal(runtime.db.engine)
    guard = _Guard()
    loop = ControlLoop(
        runtime.db.session, runtime.bus, gateway, settings, journal=journal, guard=guard
    )

    async def sites() -> list[str]:
        async with runtime.db.session() as session:
            return [str(s) for s in await session.scalars(select(m.Site.id))]

    async def rebind() -> KeyValueLike:
        bucket: KeyValueLike = await cluster.link.bucket(BUCKET, ttl=lease_settings.ttl_s)
        return bucket

    owner = SiteOwner(
        kv, cluster.node_id, sites, loop.adopt, loop.drop, lease_settings, rebind=rebind
    )
    guard.owner = owner
    cluster.link.on_reconnect(owner.reconnected)
    await loop.start()
    try:
        await owner.start()
        cluster.presence.sites = owner.owned  # GET /cluster shows them
        runtime.handles[HANDLE] = owner
        yield loop
    finally:
        runtime.handles.pop(HANDLE, None)
        cluster.presence.sites = None
        await owner.stop()  # every site handed on, its bookings written
        await loop.stop()
        await journal.close()
