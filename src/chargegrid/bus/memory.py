"""An in-process publish/subscribe bus for one event loop.

``publish`` never blocks and never fails: each subscriber has a bounded queue, and a
subscriber that falls behind loses its oldest events (counted in ``dropped``) rather
than growing memory without bound or slowing the publisher (the OCPP server and the
load manager publish from hot paths).

Topics are dotted names (``config.changed``); a subscription takes exact topics or
patterns ending in ``*`` (``session.*``, ``*``).

In cluster mode (``chargegrid.cluster.events``) ``forward`` sends each event published
here to the other nodes, and theirs arrive through ``deliver`` with the node they came
from as ``origin``. A subscriber that writes what it sees to the shared database (the
event log, the load history) subscribes ``local_only``: each node records its own.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

DEFAULT_QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    payload: Mapping[str, Any]  # one of chargegrid.events' payloads
    id: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin: str | None = None  # None: published in this process; else the node's id


def topic_matches(pattern: str, topic: str) -> bool:
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


class Subscription:
    """An async iterator of events; ``with``/``async with bus.subscribe(...)`` closes it."""

    def __init__(
        self, bus: EventBus, patterns: tuple[str, ...], maxsize: int, local_only: bool = False
    ) -> None:
        self._bus = bus
        self.patterns = patterns
        self.local_only = local_only
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def wants(self, topic: str) -> bool:
        return any(topic_matches(p, topic) for p in self.patterns)

    def offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def get_nowait(self) -> Event | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while not self.closed:
            yield await self._queue.get()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._ids = itertools.count(1)
        # Cluster mode: called with every event published here (never blocks).
        self.forward: Callable[[Event], None] | None = None

    def publish(self, topic: str, payload: Mapping[str, Any]) -> Event:
        event = Event(topic, payload, next(self._ids))
        self._fan_out(event)
        if self.forward is not None:
            self.forward(event)
        return event

    def deliver(self, topic: str, payload: Mapping[str, Any], at: datetime, origin: str) -> Event:
        """An event another node published: to this process's subscribers only."""
        event = Event(topic, payload, next(self._ids), at, origin)
        self._fan_out(event)
        return event

    def _fan_out(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            if subscription.wants(event.topic) and not (
                subscription.local_only and event.origin is not None
            ):
                subscription.offer(event)

    def subscribe(
        self,
        patterns: str | Iterable[str] = "*",
        maxsize: int = DEFAULT_QUEUE_SIZE,
        *,
        local_only: bool = False,
    ) -> Subscription:
        """``local_only``: only what this process published (cluster mode)."""
        wanted = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        subscription = Subscription(self, wanted, maxsize, local_only)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
