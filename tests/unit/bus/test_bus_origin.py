"""Events from other nodes (cluster mode): delivered here, never forwarded again, and
kept from ``local_only`` subscribers (the recorders that write the shared database)."""

from __future__ import annotations

from datetime import UTC, datetime

from chargegrid.bus.memory import Event, EventBus


def test_published_events_are_forwarded_and_delivered_ones_are_not() -> None:
    bus = EventBus()
    forwarded: list[Event] = []
    bus.forward = forwarded.append
    mine = bus.publish("config.changed", {"kind": "site"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    theirs = bus.deliver("config.changed", {"kind": "circuit"}, at, "node-b")
    assert forwarded == [mine]
    assert (theirs.origin, theirs.at, mine.origin) == ("node-b", at, None)
    assert theirs.id > mine.id  # one id sequence per process, whatever the origin


def test_local_only_subscribers_see_this_nodes_events_alone() -> None:
    bus = EventBus()
    everything = bus.subscribe("*")
    local = bus.subscribe("*", local_only=True)
    bus.deliver("session.started", {"n": 1}, datetime.now(UTC), "node-b")
    bus.publish("session.started", {"n": 2})
    seen = [e.payload["n"] for e in (everything.get_nowait(), everything.get_nowait())]
    assert seen == [1, 2]
    only = local.get_nowait()
    assert only is not None and only.payload["n"] == 2
    assert local.get_nowait() is None
