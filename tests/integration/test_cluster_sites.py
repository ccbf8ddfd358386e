"""Site ownership on real NATS (cluster/site_owner.py): two nodes' site owners over one
lease bucket, each with a fake control loop; every site has exactly one owner, a node
that dies has its sites taken over within the TTL (and stops before), and a node that
joins takes its share without two owners at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from chargegrid.cluster.leases import LeaseSettings
from chargegrid.cluster.nats_link import NatsLink, NodeIdentity
from chargegrid.cluster.site_owner import BUCKET, SiteOwner, preferred_node
from tests.integration.test_cluster_leases import CutKv
from tests.services import port_open, require

pytestmark = pytest.mark.nats

FAST = LeaseSettings(ttl_s=1.2, renew_every_s=0.2, stop_margin_s=0.4, request_timeout_s=0.5)
SITES = [str(uuid.UUID(int=i)) for i in range(1, 9)]


class Loops:
    """Who runs which site, over time: (node, site, "on"/"off", monotonic)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, float]] = []
        self.running: dict[str, set[str]] = {}

    def of(self, node: str) -> tuple[object, object]:
        async def adopt(site: str) -> None:
            assert not any(site in s for s in self.running.values()), f"{site} run twice"
            self.running.setdefault(node, set()).add(site)
            self.log.append((node, site, "on", time.monotonic()))

        async def drop(site: str) -> None:
            self.running.get(node, set()).discard(site)
            self.log.append((node, site, "off", time.monotonic()))

        return adopt, drop

    def owners(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {s: [] for s in SITES}
        for node, sites in self.running.items():
            for site in sites:
                out[site].append(node)
        return out


@pytest.fixture
async def cluster() -> AsyncIterator[str]:
    require(port_open("127.0.0.1", 4222), "no NATS server at 127.0.0.1:4222")
    yield "t" + uuid.uuid4().hex[:12]


async def _owner(cluster: str, node: str, loops: Loops) -> tuple[SiteOwner, NatsLink]:
    identity = NodeIdentity(node, "http://x", "ws://x/ocpp/", datetime.now(UTC))
    link = await NatsLink.connect("nats://127.0.0.1:4222", identity, cluster)
    kv = CutKv(await link.bucket(BUCKET, ttl=FAST.ttl_s))

    async def sites() -> list[str]:
        return SITES

    adopt, drop = loops.of(node)
    owner = SiteOwner(kv, node, sites, adopt, drop, FAST, tick_s=0.1, orphan_s=0.5)  # type: ignore[arg-type]
    await owner.start()
    return owner, link


async def _until(predicate: object, within_s: float) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - start < within_s, f"not within {within_s} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_sites_spread_move_in_order_and_are_taken_over_from_a_dead_node(
    cluster: str,
) -> None:
    loops = Loops()
    a, link_a = await _owner(cluster, "a", loops)
    await _until(lambda: all(o == ["a"] for o in loops.owners().values()), 2.0)
    # B joins: the sites that hash to B move, each stopped on A before B starts it.
    b, link_b = await _owner(cluster, "b", loops)
    to_b = {s for s in SITES if preferred_node(s, ["a", "b"]) == "b"}
    assert to_b and to_b != set(SITES)
    await _until(lambda: set(b.owned()) == to_b, 3.0)
    assert set(a.owned()) == set(SITES) - to_b
    for site in to_b:
        off = next(t for n, s, w, t in loops.log if (n, s, w) == ("a", site, "off"))
        on = next(t for n, s, w, t in loops.log if (n, s, w) == ("b", site, "on"))
        assert off < on
    # A is cut off from NATS (a frozen or partitioned node): it stops its sites before
    # its leases lapse, and B runs every site within TTL + a tick or two.
    a.leases.kv.cut = True  # type: ignore[attr-defined]
    cut_at = time.monotonic()
    await _until(lambda: not a.owned(), FAST.ttl_s)
    stopped_at = time.monotonic()
    took = await _until(lambda: set(b.owned()) == set(SITES), FAST.ttl_s + 2.0)
    assert all(len(o) <= 1 for o in loops.owners().values())
    for site in set(SITES) - to_b:
        on = [t for n, s, w, t in loops.log if (n, s, w) == ("b", site, "on")][-1]
        assert on > stopped_at, "B started a site before A had stopped it"
    print(f"takeover after the cut: {time.monotonic() - cut_at:.2f} s ({took:.2f} after A stopped)")
    await b.stop()
    await a.stop()
    await link_a.drop_bucket(BUCKET)
    await link_a.close()
    await link_b.close()


async def test_after_a_nats_reconnect_no_lease_is_taken_for_a_ttl(cluster: str) -> None:
    """A NATS that came back without the bucket forgot every lease while their holders
    may still run their sites until their deadlines: nobody takes a free site for a TTL."""
    loops = Loops()
    a, link = await _owner(cluster, "a", loops)
    await _until(lambda: all(o == ["a"] for o in loops.owners().values()), 2.0)
    await a.leases.release(f"site.{SITES[0]}")  # as if NATS had lost it
    await a.reconnected()
    back_at = time.monotonic()
    took = await _until(lambda: SITES[0] in a.owned(), FAST.ttl_s + 1.0)
    assert took >= FAST.ttl_s - 0.05, took
    assert time.monotonic() - back_at < FAST.ttl_s + 1.0
    await a.stop()
    await link.drop_bucket(BUCKET)
    await link.close()
