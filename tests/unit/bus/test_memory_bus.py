"""The in-process event bus: topics, patterns, bounded queues, unsubscribe."""

from __future__ import annotations

import asyncio

from chargegrid.bus.memory import EventBus


def test_exact_and_prefix_patterns() -> None:
    bus = EventBus()
    with bus.subscribe("config.changed") as exact, bus.subscribe("session.*") as prefix:
        bus.publish("config.changed", {"n": 1})
        bus.publish("session.started", {"n": 2})
        bus.publish("charger.connected", {"n": 3})
        first, second = exact.get_nowait(), prefix.get_nowait()
        assert first is not None and first.payload == {"n": 1}
        assert second is not None and second.topic == "session.started"
        assert exact.get_nowait() is None and prefix.get_nowait() is None


def test_a_slow_subscriber_keeps_only_the_newest_events() -> None:
    bus = EventBus()
    with bus.subscribe("*", maxsize=3) as slow:
        for n in range(10):
            bus.publish("meter.reading", {"n": n})
        kept = [slow.get_nowait() for _ in range(3)]
        assert [e.payload["n"] for e in kept if e] == [7, 8, 9]
        assert slow.dropped == 7 and slow.get_nowait() is None


def test_closing_unsubscribes() -> None:
    bus = EventBus()
    with bus.subscribe() as subscription:
        assert bus.subscriber_count == 1
    assert bus.subscriber_count == 0 and subscription.closed
    bus.publish("x", {})
    assert subscription.get_nowait() is None


async def test_async_iteration_delivers_in_order() -> None:
    bus = EventBus()
    async with bus.subscribe("t") as subscription:
        received: list[int] = []

        async def consume() -> None:
            async for event in subscription:
                received.append(event.payload["n"])
                if len(received) == 3:
                    return

        task = asyncio.create_task(consume())
        for n in range(3):
            bus.publish("t", {"n": n})
        await asyncio.wait_for(task, 5)
    assert received == [0, 1, 2]


def test_event_ids_increase() -> None:
    bus = EventBus()
    ids = [bus.publish("t", {}).id for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
