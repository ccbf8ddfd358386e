"""Node presence: each node says every ``HEARTBEAT_S`` that it is alive, in a KV bucket
whose entries lapse after ``PRESENCE_TTL_S`` (``<cluster>_nodes``, key = node id).

A node that dies stops saying so and is gone from :func:`live_nodes` within the TTL; a
node that stops cleanly deletes its entry at once. The entry carries the node's identity
(addresses, start time, this process's ``instance``), when it was last seen and how many
chargers it holds (``GET /cluster``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.js.errors import KeyNotFoundError, NoKeysError

from chargegrid.cluster.nats_link import ClusterConfigError, NatsLink

log = logging.getLogger(__name__)

BUCKET = "nodes"
HEARTBEAT_S = 1.0
PRESENCE_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """One live node, as its last heartbeat said."""

    id: str
    api_url: str
    ocpp_url: str
    started_at: datetime
    last_seen_at: datetime
    chargers: int
    instance: str
    sites: list[str] | None = None  # the sites it owns (None: no site leases here)

    @classmethod
    def parse(cls, value: bytes) -> NodeEntry:
        data = orjson.loads(value)
        return cls(
            id=data["id"],
            api_url=data["api_url"],
            ocpp_url=data["ocpp_url"],
            started_at=datetime.fromisoformat(data["started_at"]),
            last_seen_at=datetime.fromisoformat(data["last_seen_at"]),
            chargers=int(data.get("chargers", 0)),
            instance=data.get("instance", ""),
            sites=data.get("sites"),
        )


class NodePresence:
    """This node's heartbeat; ``count`` says how many chargers it holds right now and
    ``sites`` (set by whoever runs site leases) which sites it owns."""

    def __init__(self, link: NatsLink, count: Callable[[], int] = lambda: 0) -> None:
        self.link = link
        self.count = count
        self.sites: Callable[[], list[str]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        kv = await self.link.bucket(BUCKET, ttl=PRESENCE_TTL_S)
        await self._refuse_twin(kv)
        await self.beat()
        self._task = asyncio.create_task(self._beat_forever(), name="node-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # NATS down: the TTL removes it
            kv = await self.link.bucket(BUCKET, ttl=PRESENCE_TTL_S)
            await kv.delete(self.link.node_id)

    async def beat(self) -> None:
        kv = await self.link.bucket(BUCKET, ttl=PRESENCE_TTL_S)
        entry: dict[str, Any] = self.link.identity.as_json() | {
            "last_seen_at": datetime.now(UTC).isoformat(),
            "chargers": self.count(),
        }
        if self.sites is not None:
            entry["sites"] = sorted(self.sites())
        await kv.put(self.link.node_id, orjson.dumps(entry))

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.beat()
            except Exception as exc:  # NATS away: the next beat, once it is back
                log.debug("heartbeat: %s", exc)

    async def _refuse_twin(self, kv: Any) -> None:
        """Two live processes with one node id would answer each other's commands."""
        try:
            entry = await kv.get(self.link.node_id)
        except KeyNotFoundError:
            return
        if entry.value is None:
            return
        seen = NodeEntry.parse(entry.value)
        age = (datetime.now(UTC) - seen.last_seen_at).total_seconds()
        if seen.instance != self.link.identity.instance and age < 2 * HEARTBEAT_S:
            raise ClusterConfigError(
                f"node id {self.link.node_id!r} is in use by a live node "
                f"(last seen {age:.1f} s ago); give this one another --node-id"
            )


async def live_nodes(link: NatsLink) -> list[NodeEntry]:
    """Every node whose heartbeat has not lapsed, by id."""
    kv = await link.bucket(BUCKET, ttl=PRESENCE_TTL_S)
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    nodes = []
    for key in keys:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # lapsed or stopped meanwhile
            continue
        if entry.value:
            nodes.append(NodeEntry.parse(entry.value))
    return sorted(nodes, key=lambda n: n.id)
