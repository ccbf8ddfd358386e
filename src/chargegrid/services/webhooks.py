"""Webhook delivery: every bus event a subscription asks for is POSTed to its URL,
signed ``X-Chargegrid-Signature: sha256=<hex HMAC of the body>``, and retried with
exponential backoff while the receiver fails (5xx, 429, timeouts, refused connections).

Deliveries run as tasks, at most ``max_in_flight`` at a time, so a slow receiver delays
only its own events and never the bus (which drops the oldest events of a subscriber
that falls too far behind).

In a cluster every event is published on exactly one node (where its charger is
connected, where the API call came in, where the site's loop runs) and reaches the
others through the bus bridge. Each node delivers only the events it published itself,
so each is delivered once for the cluster, with its retries on that node (docs/cluster.md).
Events from other nodes still invalidate the subscription cache (a webhook created
through another node).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from chargegrid.bus.memory import Event, EventBus, topic_matches
from chargegrid.events import CONFIG_CHANGED
from chargegrid.store.db import Database
from chargegrid.store.models import Webhook

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Chargegrid-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Target:
    id: uuid.UUID
    url: str
    events: tuple[str, ...]
    secret: str
    site_id: str | None

    def wants(self, event: Event) -> bool:
        if self.site_id is not None and event.payload.get("site_id") != self.site_id:
            return False
        return any(topic_matches(p, event.topic) for p in self.events)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    first_delay_s: float = 1.0
    factor: float = 4.0
    timeout_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based): 1, 4, 16, 64, 256 s."""
        return self.first_delay_s * self.factor ** (attempt - 1)


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        client: httpx.AsyncClient,
        policy: RetryPolicy | None = None,
        max_in_flight: int = 100,
        node_id: str | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.client = client
        self.policy = policy or RetryPolicy()
        # Cluster mode: event ids count per process, so a delivery id names the node.
        self.node_id = node_id
        self._slots = asyncio.Semaphore(max_in_flight)
        self._targets: list[Target] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.failed = 0
        # Subscribed from the start, so nothing published before run() is missed.
        self._events = bus.subscribe("*")

    async def run(self) -> None:
        """Deliver events until cancelled."""
        with self._events as events:
            async for event in events:
                if event.topic == CONFIG_CHANGED and event.payload.get("kind") == "webhook":
                    self._targets = None  # a subscription changed: reload before matching
                if event.origin is not None:
                    continue  # another node's: delivered there
                for target in await self._matching(event):
                    await self._slots.acquire()
                    task = asyncio.create_task(self._deliver(target, event))
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def close(self) -> None:
        self._events.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _matching(self, event: Event) -> list[Target]:
        if self._targets is None:
            self._targets = await self._load()
        return [t for t in self._targets if t.wants(event)]

    async def _load(self) -> list[Target]:
        async with self.db.session() as session:
            rows = await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))
            return [
                Target(
                    w.id,
                    w.url,
                    tuple(w.events),
                    w.secret,
                    str(w.site_id) if w.site_id else None,
                )
                for w in rows
            ]

    async def _deliver(self, target: Target, event: Event) -> None:
        body = json.dumps(
            {
                "id": event.id,
                "event": event.topic,
                "at": event.at.isoformat(),
                "data": event.payload,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Chargegrid-Event": event.topic,
            "X-Chargegrid-Delivery": f"{target.id}/{self._event_ref(event)}",
            SIGNATURE_HEADER: sign(target.secret, body),
        }
        for attempt in range(1, self.policy.attempts + 1):
            status = await self._post(target, body, headers)
            if status is not None and status < 300:
                self.delivered += 1
                return
            if status is not None and status < 500 and status != 429:
                # The receiver refused it (4xx): it will not change its mind.
                log.warning("webhook %s refused event %s: HTTP %s", target.id, event.id, status)
                self.failed += 1
                return
            if attempt < self.policy.attempts:
                await asyncio.sleep(self.policy.delay(attempt))
        self.failed += 1
        log.warning("webhook %s gave up on event %s (%s)", target.id, event.id, event.topic)

    def _event_ref(self, event: Event) -> str:
        return str(event.id) if self.node_id is None else f"{self.node_id}.{event.id}"

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> int | None:
        """The receiver's HTTP status, or None when it could not be reached."""
        try:
            response = await self.client.post(
                target.url, content=body, headers=headers, timeout=self.policy.timeout_s
            )
        except httpx.HTTPError as exc:
            log.info("webhook %s: %s", target.id, exc)
            return None
        return response.status_code
