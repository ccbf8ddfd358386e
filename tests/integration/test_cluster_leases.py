"""Site leases on a real NATS JetStream KV bucket (cluster/leases.py): at most one
holder, a holder that cannot renew stops before anybody else can take over, and a
release hands over at once. Short TTLs keep the file at ~5 s."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chargegrid.cluster.leases import Leases, LeaseSettings
from chargegrid.cluster.nats_link import NatsLink, NodeIdentity
from tests.services import port_open, require

pytestmark = pytest.mark.nats

NATS_URL = "nats://127.0.0.1:4222"
FAST = LeaseSettings(ttl_s=1.2, renew_every_s=0.2, stop_margin_s=0.4, request_timeout_s=0.5)


async def _link(cluster: str, node: str) -> NatsLink:
    identity = NodeIdentity(node, "http://x", "ws://x/ocpp/", datetime.now(UTC))
    return await NatsLink.connect(NATS_URL, identity, cluster)


@pytest.fixture
async def links() -> AsyncIterator[tuple[NatsLink, NatsLink]]:
    require(port_open("127.0.0.1", 4222), "no NATS server at 127.0.0.1:4222")
    cluster = "t" + uuid.uuid4().hex[:12]
    a, b = await _link(cluster, "a"), await _link(cluster, "b")
    try:
        yield a, b
    finally:
        await a.drop_bucket("leases")
        await a.close()
        await b.close()


class Journal:
    """When each holder started and stopped using a lease (monotonic)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, float]] = []  # (holder, "on"/"off", at)

    def callbacks(self, holder: str) -> dict[str, object]:
        async def on(key: str) -> None:
            self.spans.append((holder, "on", time.monotonic()))

        async def off(key: str) -> None:
            self.spans.append((holder, "off", time.monotonic()))

        return {"on_acquired": on, "on_lost": off}

    def first(self, holder: str, what: str) -> float:
        return next(t for h, w, t in self.spans if h == holder and w == what)


class CutKv:
    """The bucket as one node sees it; ``cut`` makes every request fail (NATS gone)."""

    def __init__(self, kv: Any) -> None:
        self.kv = kv
        self.cut = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.kv, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.cut:
                raise TimeoutError("cut off from NATS")
            return await method(*args, **kwargs)

        return call


async def _leases(link: NatsLink, journal: Journal) -> Leases:
    kv = CutKv(await link.bucket("leases", ttl=FAST.ttl_s))
    return Leases(kv, link.node_id, FAST, **journal.callbacks(link.node_id))  # type: ignore[arg-type]


async def _until(predicate: object, deadline_s: float) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"not within {deadline_s} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_exactly_one_of_two_takes_a_free_lease(links: tuple[NatsLink, NatsLink]) -> None:
    journal = Journal()
    a, b = await _leases(links[0], journal), await _leases(links[1], journal)
    won = await asyncio.gather(*(x.acquire(f"site-{i}") for i in range(5) for x in (a, b)))
    for i in range(5):
        assert won[2 * i] != won[2 * i + 1], f"site-{i}: both or neither took it"
        holder = await a.holder_of(f"site-{i}")
        assert holder == ("a" if won[2 * i] else "b")
        assert a.holds(f"site-{i}") == won[2 * i] and b.holds(f"site-{i}") == won[2 * i + 1]


async def test_a_holder_that_stops_renewing_stops_before_the_other_takes_over(
    links: tuple[NatsLink, NatsLink],
) -> None:
    journal = Journal()
    a, b = await _leases(links[0], journal), await _leases(links[1], journal)
    a.start()
    assert await a.acquire("site")
    await asyncio.sleep(3 * FAST.renew_every_s)  # it renews: nobody else gets it
    assert not await b.acquire("site")
    assert a.holds("site")
    # A's renewals fail from now on (cut off from NATS), its entry still there.
    a.kv.cut = True  # type: ignore[attr-defined]
    frozen_at = time.monotonic()
    waited = await _until(lambda: not a.holds("site"), FAST.ttl_s)
    assert waited <= FAST.ttl_s - FAST.stop_margin_s + 0.1
    # B keeps trying, as the site owner does; it can only win once the entry lapsed.
    while not await b.acquire("site"):
        assert time.monotonic() - frozen_at < FAST.ttl_s + 1.0, "no takeover within TTL + 1 s"
        await asyncio.sleep(0.05)
    await _until(lambda: ("a", "off") in {(h, w) for h, w, _ in journal.spans}, 1.0)
    assert journal.first("a", "off") < journal.first("b", "on"), journal.spans
    # The stop came at least the margin before B could start (less the poll step).
    assert journal.first("b", "on") - journal.first("a", "off") >= FAST.stop_margin_s - 0.1
    await a.stop(release=False)
    await b.stop()


async def test_release_hands_over_at_once_and_a_stale_holder_learns_it_lost(
    links: tuple[NatsLink, NatsLink],
) -> None:
    journal = Journal()
    a, b = await _leases(links[0], journal), await _leases(links[1], journal)
    assert await a.acquire("site")
    await a.release("site")
    released_at = time.monotonic()
    assert await b.acquire("site")
    assert time.monotonic() - released_at < 0.5  # no TTL to wait for
    assert journal.first("a", "off") < journal.first("b", "on")
    # A node that believes it still holds a lease another node took learns so on renewal.
    c = await _leases(links[0], journal)
    assert await c.acquire("other")
    await c.kv.delete("other")  # gone under its feet (an operator, a restarted NATS)
    assert await b.acquire("other")
    await c.renew()
    assert not c.holds("other")
    assert [w for h, w, _ in journal.spans if h == "a"].count("off") == 2
    await b.stop()
