"""A site handed from one node's control loop to another's (cluster mode), on one real
SQLite store: what the first booked is written ahead of every call that could raise it,
and the second starts from it (the held-limit rule), never from zero. No NATS here: the
lease is a flag (``Guard``); the leases themselves are tested on NATS elsewhere.

The site of ``test_loop``: CP3 (3-phase, circuit A 32 A) and CP1 (1-phase, circuit B
16 A), both charging, all on a 63 A main fuse.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chargegrid.bus.memory import EventBus
from chargegrid.control.apply import ApplySettings, EvseKey
from chargegrid.control.held_journal import SqlHeldJournal
from chargegrid.control.loop import ControlLoop, LoopSettings
from chargegrid.store.db import Database

from .fakes import Call, FakeGateway
from .test_loop import _seed, set_available

SETTINGS = LoopSettings(debounce_s=0.001, reconcile_s=3600)
# Raises at once (no hold-off after a change, no car slowing down after a cut), so
# every kind of call is seen.
EAGER = LoopSettings(
    debounce_s=0.001,
    reconcile_s=3600,
    apply=ApplySettings(increase_holdoff_s=0.0, car_reaction_s=0.0),
)


class Guard:
    """The lease, as the loop sees it: held or not."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    def holds(self, site_id: str) -> bool:
        return site_id in self.held


@dataclass
class Node:
    loop: ControlLoop
    gateway: FakeGateway
    guard: Guard
    journal: SqlHeldJournal


@dataclass
class Cluster:
    db: Database
    path: Path
    bus: EventBus
    site: str
    c3: str
    c1: str
    nodes: list[Node]

    async def node(self, settings: LoopSettings = SETTINGS) -> Node:
        gateway, guard = FakeGateway(), Guard()
        journal = SqlHeldJournal(self.db.engine, flush_s=0.01)
        loop = ControlLoop(
            self.db.session, self.bus, gateway, settings, journal=journal, guard=guard
        )
        await loop.start()
        node = Node(loop, gateway, guard, journal)
        self.nodes.append(node)
        return node

    async def take(self, node: Node) -> int:
        node.guard.held.add(self.site)
        restored = await node.loop.adopt(self.site)
        await node.loop.settle()
        return restored

    async def hand_on(self, node: Node) -> None:
        await node.loop.drop(self.site)
        node.guard.held.discard(self.site)

    def row(self, charger_id: str) -> tuple[float | None, float | None]:
        """(live_amps, failsafe_amps) as stored right now (read beside the app)."""
        with sqlite3.connect(self.path) as conn:
            found = conn.execute(
                "SELECT live_amps, failsafe_amps FROM held_limits WHERE charger_id = ?",
                (charger_id.replace("-", ""),),
            ).fetchone()
        return (found[0], found[1]) if found else (None, None)


@pytest.fixture
async def cluster(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Cluster]:
    path = tmp_path / "cluster.db"
    shutil.copy(sqlite_template, path)  # migrated once per run
    db = Database(f"sqlite+aiosqlite:///{path}")
    site_id, c3, c1, _ = await _seed(db)
    world = Cluster(db, path, EventBus(), str(site_id), str(c3), str(c1), [])
    yield world
    for node in world.nodes:
        await node.loop.stop()
        await node.journal.close()
    await db.dispose()


def _last_live(gateway: FakeGateway, ocpp_id: str) -> Call:
    return [c for c in gateway.calls if c.ocpp_id == ocpp_id and c.profile["stackLevel"] != 0][-1]


async def test_a_loop_without_the_lease_sends_nothing(cluster: Cluster) -> None:
    a = await cluster.node()
    await a.loop.settle()
    cluster.bus.publish("config.changed", {"kind": "site", "site_id": cluster.site})
    await a.loop.settle()
    assert a.gateway.calls == []
    assert a.loop.owned() == []


async def test_every_raise_is_stored_before_its_frame_goes_out(cluster: Cluster) -> None:
    a = await cluster.node(EAGER)
    seen: list[tuple[str, bool, float, float | None]] = []

    def check(call: Call) -> None:
        charger = cluster.c3 if call.ocpp_id == "CP3" else cluster.c1
        live, failsafe = cluster.row(charger)
        is_failsafe = call.profile["stackLevel"] == 0
        seen.append((call.ocpp_id, is_failsafe, call.limit, failsafe if is_failsafe else live))

    a.gateway.on_call = check
    await cluster.take(a)
    await set_available(_World(cluster, a), 20.0)
    await set_available(_World(cluster, a), 63.0)  # raises again
    raised = [s for s in seen if not s[1] and s[2] > 10.0]
    assert len(raised) >= 4, seen  # first limits, and the raises after the cut
    for ocpp_id, is_failsafe, limit, stored in seen:
        if is_failsafe and stored is None:
            continue  # a first failsafe: until answered the EVSE counts as unknown
        assert stored is not None and stored >= limit, (ocpp_id, is_failsafe, limit, stored)


async def test_the_next_owner_counts_every_charger_at_what_it_may_still_obey(
    cluster: Cluster,
) -> None:
    a = await cluster.node()
    await cluster.take(a)
    await set_available(_World(cluster, a), 20.0)
    held_by_charger = {o: _last_live(a.gateway, o).limit for o in ("CP3", "CP1")}
    assert max(held_by_charger.values()) <= 20.0
    await cluster.hand_on(a)
    # A keeps no booking of a site it no longer runs.
    assert a.loop.engine.committed(EvseKey(cluster.c3, 1), 103) is None
    # While nobody runs the site its fuse is raised again (no event reaches a loop).
    await set_available(_Quiet(cluster), 63.0)
    b = await cluster.node()
    before = len(b.gateway.calls)
    b.guard.held.add(cluster.site)
    assert await b.loop.adopt(cluster.site) == 2
    # Before B has sent anything: what A booked, never zero, never unknown.
    for charger, ocpp, tx in ((cluster.c3, "CP3", 103), (cluster.c1, "CP1", 101)):
        committed = b.loop.engine.committed(EvseKey(charger, 1), tx)
        assert committed is not None, "counted as unknown"
        assert committed.amps >= held_by_charger[ocpp], (ocpp, committed)
    await b.loop.settle()
    # The raise waits out the quiet period after a takeover (a car A cut just before it
    # went may still be slowing down): only cuts and renewals go out now.
    for call in b.gateway.calls[before:]:
        if call.profile["stackLevel"] != 0:
            assert call.limit <= held_by_charger[call.ocpp_id], call
    # An operator's cut still reaches the cars at once through the new owner.
    await set_available(_World(cluster, b), 10.0)
    assert _last_live(b.gateway, "CP3").limit <= 10.0


async def test_a_lost_lease_stops_frames_at_once(cluster: Cluster) -> None:
    a = await cluster.node()
    await cluster.take(a)
    sent = len(a.gateway.calls)
    a.guard.held.clear()  # the lease ran out: drop() has not run yet
    await set_available(_World(cluster, a), 10.0)
    assert len(a.gateway.calls) == sent


@dataclass
class _World:
    """What ``test_loop.set_available`` needs of a world."""

    cluster: Cluster
    node: Node

    @property
    def db(self) -> Database:
        return self.cluster.db

    @property
    def site_id(self) -> object:
        import uuid

        return uuid.UUID(self.cluster.site)

    @property
    def bus(self) -> EventBus:
        return self.cluster.bus

    async def settle(self) -> None:
        await self.node.loop.settle()


@dataclass
class _Quiet(_World):
    """A change while no loop runs the site."""

    node: Node | None = None  # type: ignore[assignment]

    async def settle(self) -> None:
        return None


async def test_a_node_that_does_not_run_the_site_shows_its_owners_view(cluster: Cluster) -> None:
    a, b = await cluster.node(), await cluster.node()
    await cluster.take(a)
    await set_available(_World(cluster, a), 20.0)
    await b.loop.settle()
    seen = await b.loop.current_view(cluster.site)
    assert seen is not None and seen == a.loop.view(cluster.site)
    assert b.gateway.calls == []  # it only listened
