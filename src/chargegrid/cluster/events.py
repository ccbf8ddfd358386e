"""The bus bridge: every event published on one node reaches every other node's
subscribers (control loop, SSE streams, webhooks, metrics), once per node and in each
publisher's order.

A node publishes each of its own events to ``<cluster>.events.<node id>.<topic>`` and
subscribes to ``<cluster>.events.>``. Its own events reach its own subscribers
straight from ``EventBus.publish`` (no round trip through NATS); the copy NATS echoes
back is dropped by the node id in the subject. Ordering: one publisher connection and
one sending task per node, and NATS keeps a connection's messages in order to each
subscriber.

Core NATS, not a JetStream stream: these are live events. Every consumer rebuilds its
state from PostgreSQL when it starts (the control loop re-reads its sites, SSE clients
re-read and reconnect), so replaying history to a node that was away would add nothing
but a burst of stale events. What is published while the connection is down waits in
the client's buffer (``nats_link.PENDING_BYTES``) and goes out once it is back; what a
node misses while *it* is cut off is lost for it (a partition), and the control loop's
periodic recompute covers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from chargegrid.bus.memory import Event, EventBus
from chargegrid.cluster.metrics import EVENTS
from chargegrid.cluster.nats_link import NatsLink

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

OUTBOX_SIZE = 100_000  # events waiting to go out; past it the oldest are dropped


class EventBridge:
    def __init__(self, link: NatsLink, bus: EventBus) -> None:
        self.link = link
        self.bus = bus
        self._outbox: asyncio.Queue[Event] = asyncio.Queue(OUTBOX_SIZE)
        self._sender: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.sent = 0
        self.received = 0
        self.dropped = 0

    async def start(self) -> None:
        self._subscription = await self.link.nc.subscribe(
            self.link.subject("events", ">"), cb=self._on_message, pending_msgs_limit=OUTBOX_SIZE
        )
        await self.link.nc.flush()  # the server has our subscription: nothing from now is missed
        self._sender = asyncio.create_task(self._send_forever(), name="event-bridge")
        self.bus.forward = self._queue

    async def stop(self) -> None:
        self.bus.forward = None
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        while not self._outbox.empty() and self.link.connected:  # what is queued goes out
            await self._send(self._outbox.get_nowait())
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    def _queue(self, event: Event) -> None:
        if self._outbox.full():  # NATS far behind: never block the publisher
            self._outbox.get_nowait()
            self.dropped += 1
            EVENTS.labels("dropped").inc()
        self._outbox.put_nowait(event)

    async def _send_forever(self) -> None:
        while True:
            await self._send(await self._outbox.get())

    async def _send(self, event: Event) -> None:
        subject = self.link.subject("events", self.link.node_id, event.topic)
        body = orjson.dumps(
            {"topic": event.topic, "at": event.at.isoformat(), "payload": event.payload},
            default=str,
        )
        try:
            await self.link.nc.publish(subject, body)
            self.sent += 1
            EVENTS.labels("sent").inc()
        except Exception as exc:  # closed, or a buffer overflow while away
            self.dropped += 1
            EVENTS.labels("dropped").inc()
            log.warning("event %s not sent to the other nodes: %s", event.topic, exc)

    async def _on_message(self, msg: Msg) -> None:
        # <cluster>.events.<node id>.<topic...>
        origin = msg.subject.split(".", 3)[2]
        if origin == self.link.node_id:
            return  # our own, delivered here when it was published
        try:
            data: dict[str, Any] = orjson.loads(msg.data)
            self.bus.deliver(
                data["topic"], data["payload"], datetime.fromisoformat(data["at"]), origin
            )
            self.received += 1
            EVENTS.labels("received").inc()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed event from %s: %s", origin, exc)
