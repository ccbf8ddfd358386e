"""Per-token rate limits across nodes, without a NATS round trip per request.

Each node keeps its own token buckets (``services.rate_limit``) and answers every request
from them at once. Every ``every_s`` it publishes what it granted per key since the last
time (``<cluster>.ratelimit.<node id>``, core NATS) and charges what the other nodes
granted to its own buckets. So a key has one budget for the cluster, enforced with a lag
of one interval: within an interval each node can grant at most what its own bucket
holds, so a client spread over N nodes gets at most ``N x burst`` in its first interval
of a burst (its first ``burst`` on one node plus what the others' buckets hold), and the
cluster-wide rate after that (docs/cluster.md, rate limits). A message lost while NATS is
away only makes the limit looser for that interval, never stricter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson

from chargegrid.cluster.nats_link import NatsLink
from chargegrid.services.rate_limit import RateLimiter

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

HANDLE = "rate_limiter"  # the API's RateLimiter in runtime.handles (app.build_app)
EVERY_S = 0.2


class SharedRateLimits:
    def __init__(self, link: NatsLink, limiter: RateLimiter, every_s: float = EVERY_S) -> None:
        self.link = link
        self.limiter = limiter
        self.every_s = every_s
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.charged = 0

    async def start(self) -> None:
        self.limiter.share()
        self._subscription = await self.link.nc.subscribe(
            self.link.subject("ratelimit", "*"), cb=self._on_message
        )
        self._task = asyncio.create_task(self._publish_forever(), name="rate-limit-share")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def publish(self) -> None:
        taken = self.limiter.drain_taken()
        if taken:
            subject = self.link.subject("ratelimit", self.link.node_id)
            await self.link.nc.publish(subject, orjson.dumps(taken))

    async def _publish_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.publish()
            except Exception as exc:  # NATS away: this interval's counts are not shared
                log.debug("rate limits not shared: %s", exc)

    async def _on_message(self, msg: Msg) -> None:
        if msg.subject.rsplit(".", 1)[-1] == self.link.node_id:
            return  # our own, already in our buckets
        try:
            taken: dict[str, Any] = orjson.loads(msg.data)
        except ValueError:
            return
        for key, requests in taken.items():
            if isinstance(key, str) and isinstance(requests, int):
                self.limiter.charge(key, requests)
                self.charged += requests


@asynccontextmanager
async def shared_rate_limits(runtime: Any) -> AsyncIterator[SharedRateLimits | None]:
    """The app component (cluster mode, after the cluster component)."""
    cluster = runtime.handles.get("cluster")
    limiter = runtime.handles.get(HANDLE)
    if cluster is None or not isinstance(limiter, RateLimiter) or not limiter.enabled:
        yield None
        return
    shared = SharedRateLimits(cluster.link, limiter)
    await shared.start()
    try:
        yield shared
    finally:
        await shared.stop()
