"""The cluster's event bridge, charger location registry and command routing on a real
NATS, in process: events reach the other node once each and in order, never come back to
their own node, stay out of the other node's ``local_only`` recorders; a charger's entry
is the newest connection's, and an old connection's ending does not delete a newer one's;
a command whose reply is lost is asked again under its id and applied once."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from chargegrid import events as ev
from chargegrid.bus.memory import EventBus, Subscription
from chargegrid.cluster import routing
from chargegrid.cluster.events import EventBridge
from chargegrid.cluster.locations import ChargerLocations
from chargegrid.cluster.nats_link import NatsLink, NodeIdentity
from chargegrid.cluster.routing import RoutedGateway
from tests.browser.harness import free_port
from tests.services import port_open, require

pytestmark = pytest.mark.nats

NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
async def links() -> AsyncIterator[tuple[NatsLink, NatsLink]]:
    require(port_open("127.0.0.1", 4222), "no NATS server at 127.0.0.1:4222")
    cluster = "t" + uuid.uuid4().hex[:12]
    pair = []
    for node in ("a", "b"):
        identity = NodeIdentity(node, "http://x", "ws://x/ocpp/", datetime.now(UTC))
        pair.append(await NatsLink.connect(NATS_URL, identity, cluster))
    a, b = pair
    try:
        yield a, b
    finally:
        await a.drop_bucket("chargers")
        await a.close()
        await b.close()


async def drain(subscription: Subscription, count: int, timeout: float = 5.0) -> list[int]:  # noqa: ASYNC109
    seen: list[int] = []
    async with asyncio.timeout(timeout):
        while len(seen) < count:
            seen.append((await subscription.get()).payload["n"])
    return seen


async def test_events_reach_the_other_node_once_in_order(
    links: tuple[NatsLink, NatsLink],
) -> None:
    (link_a, link_b), bus_a, bus_b = links, EventBus(), EventBus()
    bridges = [EventBridge(link_a, bus_a), EventBridge(link_b, bus_b)]
    for bridge in bridges:
        await bridge.start()
    try:
        on_a, on_b = bus_a.subscribe("session.*"), bus_b.subscribe("session.*")
        recorder_b = bus_b.subscribe("*", local_only=True)
        for n in range(300):
            bus_a.publish(ev.SESSION_UPDATED, {"n": n})
        bus_b.publish(ev.SESSION_STARTED, {"n": -1})
        # B's own event is delivered at once, A's through NATS in A's order.
        seen_on_b = await drain(on_b, 301)
        assert [n for n in seen_on_b if n >= 0] == list(range(300)) and seen_on_b.count(-1) == 1
        assert await drain(on_a, 301) == [*range(300), -1]
        # Nothing twice: A's own events did not come back to it through NATS.
        await link_a.nc.flush()
        await asyncio.sleep(0.2)
        assert on_a.get_nowait() is None and on_b.get_nowait() is None
        only = recorder_b.get_nowait()
        assert only is not None and only.payload["n"] == -1 and only.origin is None
        assert recorder_b.get_nowait() is None
        assert bridges[1].received == 300 and bridges[0].sent == 300
    finally:
        for bridge in bridges:
            await bridge.stop()


async def until(check: object, what: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_an_old_connection_never_removes_a_newer_ones_entry(
    links: tuple[NatsLink, NatsLink],
) -> None:
    link_a, link_b = links
    held: dict[str, set[str]] = {"a": set(), "b": set()}
    bus_a, bus_b = EventBus(), EventBus()
    a = ChargerLocations(link_a, bus_a, lambda o: o in held["a"])
    b = ChargerLocations(link_b, bus_b, lambda o: o in held["b"])
    await a.start()
    await b.start()
    link = {"charger_id": str(uuid.uuid4()), "ocpp_id": "CP-1", "ocpp_version": "1.6"}
    try:
        held["a"].add("CP-1")
        bus_a.publish(ev.CHARGER_CONNECTED, link)
        await until(lambda: a.epoch_of("CP-1") is not None, "A's entry")
        first = await b.lookup("CP-1", fresh=True)
        assert first is not None and (first.node_id, first.epoch) == ("a", a.epoch_of("CP-1"))

        # The charger reconnects to B before A notices its old socket is gone.
        held["b"].add("CP-1")
        bus_b.publish(ev.CHARGER_CONNECTED, link)
        await until(lambda: b.epoch_of("CP-1") is not None, "B's entry")
        second = await a.lookup("CP-1", fresh=True)
        assert second is not None and second.node_id == "b" and second.epoch > first.epoch

        # A's socket ends: superseded, and its compare-and-delete leaves B's entry.
        held["a"].discard("CP-1")
        assert await a.release_if_superseded("CP-1") is True
        bus_a.publish(ev.CHARGER_DISCONNECTED, link)  # as if it had not been superseded
        await asyncio.sleep(0.2)
        after = await a.lookup("CP-1", fresh=True)
        assert after is not None and (after.node_id, after.epoch) == ("b", second.epoch)

        # B's own ending removes it, and A does not see it as superseded any more.
        held["b"].discard("CP-1")
        assert await b.release_if_superseded("CP-1") is False
        bus_b.publish(ev.CHARGER_DISCONNECTED, link)
        deadline = time.monotonic() + 5
        while await a.lookup("CP-1", fresh=True) is not None:
            assert time.monotonic() < deadline, "B's entry was not deleted"
            await asyncio.sleep(0.01)
    finally:
        await a.stop()
        await b.stop()


class Wallbox:
    """A node's own OCPP gateway holding ``ocpp_id``; counts what reaches the charger."""

    def __init__(self, ocpp_id: str) -> None:
        self.ocpp_id = ocpp_id
        self.received: list[str] = []

    def is_connected(self, ocpp_id: str) -> bool:
        return ocpp_id == self.ocpp_id

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        self.received.append(str(payload["data"]))
        return {"status": "Accepted", "data": payload["data"]}


class LosesFirstReply(RoutedGateway):
    """A holder whose first reply never reaches the caller (the command was applied)."""

    lost = False

    async def _serve(self, msg: Any) -> None:
        if not self.lost:
            self.lost = True
            await self._once(orjson.loads(msg.data))
            return
        await super()._serve(msg)


async def test_a_command_whose_reply_is_lost_is_applied_once(
    links: tuple[NatsLink, NatsLink], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "NATS_MARGIN_S", 0.2)
    link_a, link_b = links
    charger = Wallbox("CP-2")
    bus_a = EventBus()
    a = ChargerLocations(link_a, bus_a, charger.is_connected)
    b = ChargerLocations(link_b, EventBus(), lambda _: False)
    await a.start()
    await b.start()
    holder = LosesFirstReply(link_a, charger, a)  # type: ignore[arg-type]
    router = RoutedGateway(link_b, Wallbox("nobody"), b)  # type: ignore[arg-type]
    try:
        await holder.listen()
        bus_a.publish(ev.CHARGER_CONNECTED, {"charger_id": "x", "ocpp_id": "CP-2"})
        await until(lambda: a.epoch_of("CP-2") is not None, "A's entry")
        answer = await router.send("CP-2", "DataTransfer", {"data": "once"}, 0.3)
        assert answer == {"status": "Accepted", "data": "once"}
        assert holder.lost and charger.received == ["once"]
    finally:
        await holder.close()
        await a.stop()
        await b.stop()


class PrivateNats:
    """A nats-server of this test's own (JetStream, file storage), to stop and restart."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, store: Path | None = None) -> None:
        self.store = store or self.store
        binary = shutil.which("nats-server") or "nats-server"
        args = [binary, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)]
        self.process = await asyncio.create_subprocess_exec(
            *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await until(lambda: port_open("127.0.0.1", self.port, 0.05), "nats-server to listen")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)


async def test_nats_restarting_with_or_without_its_data(tmp_path: Path) -> None:
    require(shutil.which("nats-server") is not None, "no nats-server binary to run a private NATS")
    server = PrivateNats(tmp_path / "js1")
    await server.start()
    identity = [NodeIdentity(n, "http://x", "ws://x/ocpp/", datetime.now(UTC)) for n in "ab"]
    link_a, link_b = [await NatsLink.connect(server.url, i, "restart") for i in identity]
    charger, bus_a = Wallbox("CP-4"), EventBus()
    a = ChargerLocations(link_a, bus_a, charger.is_connected)
    b = ChargerLocations(link_b, EventBus(), lambda _: False)
    holder = RoutedGateway(link_a, charger, a)  # type: ignore[arg-type]
    router = RoutedGateway(link_b, Wallbox("nobody"), b)  # type: ignore[arg-type]
    try:
        await a.start()
        await b.start()
        await holder.listen()
        bus_a.publish(ev.CHARGER_CONNECTED, {"charger_id": "x", "ocpp_id": "CP-4"})
        await until(lambda: a.epoch_of("CP-4") is not None, "A's entry")
        assert (await router.send("CP-4", "DataTransfer", {"data": "1"}, 2))["data"] == "1"
        for store in (None, tmp_path / "js2"):  # the same data, then none (a lost disk)
            await server.stop()
            await until(lambda: not link_a.connected and not link_b.connected, "both to notice")
            await server.start(store)
            await until(lambda: link_a.connected and link_b.connected, "both back", 10)
            found = None
            deadline = time.monotonic() + 10
            while found is None or found.node_id != "a":
                assert time.monotonic() < deadline, "A's charger was not where it is again"
                with contextlib.suppress(Exception):  # JetStream a moment after the socket
                    found = await b.lookup("CP-4", fresh=True)
                await asyncio.sleep(0.05)
            answer = await router.send("CP-4", "DataTransfer", {"data": str(store)}, 2)
            assert answer["data"] == str(store)
        assert charger.received == ["1", "None", str(tmp_path / "js2")]
    finally:
        await holder.close()
        await a.stop()
        await b.stop()
        await link_a.close()
        await link_b.close()
        await server.stop()
