"""Two ``chargegrid serve --nats-url`` processes on one fresh PostgreSQL database and a
real NATS: migrations run once, a charger on node A answers a REST action sent to
node B, A's events reach B's event stream, a reconnect to B makes the charger
reachable there at once, a command for the old connection's epoch is refused, and when B
dies a command for its charger fails at once (409) instead of waiting out its deadline.

The charger is the ``ocpp`` library's ChargePoint (an independent client); each of its
connections answers DataTransfer with its own name, so every answer says which socket
it came through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result

from chargegrid.cluster.nats_link import NatsLink, NodeIdentity
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork
from tests.browser.harness import free_port
from tests.conftest import PG_URL, pg_execute, pg_url_for
from tests.services import port_open, require

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.nats]

BIN = Path(sys.executable).parent
NATS_URL = "nats://127.0.0.1:4222"
API = "/api/v1"


@dataclass
class Node:
    id: str
    process: asyncio.subprocess.Process
    api: str
    ocpp_port: int
    log: Path


@dataclass
class Cluster:
    name: str
    url: str
    nodes: dict[str, Node]
    token: str = ""
    link: NatsLink | None = None

    def client(self, node: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.nodes[node].api + API,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=40,
        )


async def start_node(node_id: str, cluster: str, url: str, tmp_path: Path) -> Node:
    port, ocpp_port = free_port(), free_port()
    log = tmp_path / f"{node_id}.log"
    process = await asyncio.create_subprocess_exec(
        str(BIN / "chargegrid"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ocpp-port",
        str(ocpp_port),
        "--database-url",
        url,
        "--nats-url",
        NATS_URL,
        "--node-id",
        node_id,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "CHARGEGRID_RATE_LIMIT": "0", "CHARGEGRID_CLUSTER_NAME": cluster},
    )
    return Node(node_id, process, f"http://127.0.0.1:{port}", ocpp_port, log)


async def until_ready(node: Node, timeout: float = 90.0) -> None:  # noqa: ASYNC109
    # Start-up took 15-40 s here with the 2 cores shared by a dozen busy processes.
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            assert node.process.returncode is None, node.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(node.api + "/readyz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"node {node.id} not ready in {timeout} s"
            await asyncio.sleep(0.1)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    require(port_open("127.0.0.1", 5432), "PostgreSQL does not answer at 127.0.0.1:5432")
    require(port_open("127.0.0.1", 4222), "no NATS server at 127.0.0.1:4222")
    assert PG_URL  # the admin connection tests/conftest.py uses
    database = f"cg_cluster_{secrets.token_hex(6)}"
    name = "t" + secrets.token_hex(6)
    await pg_execute(f'CREATE DATABASE "{database}"')  # empty: both nodes race to migrate
    url = pg_url_for(database)
    nodes: dict[str, Node] = {}
    link: NatsLink | None = None
    try:
        nodes = {n: await start_node(n, name, url, tmp_path) for n in ("a", "b")}
        await asyncio.gather(*(until_ready(n) for n in nodes.values()))
        db = Database(url)
        try:
            async with UnitOfWork(db) as uow:
                token = await create_token(uow, Role.ADMIN)
        finally:
            await db.dispose()
        identity = NodeIdentity("test", "http://x", "ws://x/ocpp/", datetime.now(UTC))
        link = await NatsLink.connect(NATS_URL, identity, name)
        yield Cluster(name, url, nodes, token, link)
    finally:
        if link is not None:
            await link.close()
        for node in nodes.values():
            if node.process.returncode is None:
                node.process.terminate()
        for node in nodes.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(node.process.wait(), 10)
            if node.process.returncode is None:
                node.process.kill()
        cleanup = await NatsLink.connect(
            NATS_URL, NodeIdentity("cleanup", "", "", datetime.now(UTC)), name
        )
        for bucket in ("nodes", "chargers", "leases"):
            await cleanup.drop_bucket(bucket)
        await cleanup.close()
        await pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


class Wallbox(ChargePoint):  # type: ignore[misc]
    """Answers what the central system asks after boot; DataTransfer with its name."""

    name = ""
    transfers: list[str]

    @on("GetConfiguration")  # type: ignore[misc]
    def on_get_configuration(self, **_: Any) -> Any:
        return call_result.GetConfiguration(configuration_key=[])

    @on("ChangeConfiguration")  # type: ignore[misc]
    def on_change_configuration(self, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status="Accepted")

    @on("SetChargingProfile")  # type: ignore[misc]
    def on_set_charging_profile(self, **_: Any) -> Any:
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")  # type: ignore[misc]
    def on_clear_charging_profile(self, **_: Any) -> Any:
        return call_result.ClearChargingProfile(status="Accepted")

    @on("DataTransfer")  # type: ignore[misc]
    def on_data_transfer(self, vendor_id: str, data: str = "", **_: Any) -> Any:
        self.transfers.append(data)
        return call_result.DataTransfer(status="Accepted", data=f"{self.name}:{data}")


@dataclass
class Connection:
    charger: Wallbox
    ws: Any
    task: asyncio.Task[None]

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await self.task


async def connect(node: Node, ocpp_id: str, name: str, transfers: list[str]) -> Connection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{node.ocpp_port}/ocpp/{ocpp_id}", subprotocols=["ocpp1.6"]
    )
    charger = Wallbox(ocpp_id, ws)
    charger.name, charger.transfers = name, transfers
    task = asyncio.create_task(charger.start())
    boot = await charger.call(
        call.BootNotification(charge_point_vendor="Acme", charge_point_model="Cluster")
    )
    assert boot.status == "Accepted"
    return Connection(charger, ws, task)


@dataclass
class Stream:
    """A node's SSE stream, read into ``events`` (topic, data) as it comes."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    open: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, client: httpx.AsyncClient) -> None:
        topic = ""
        async with client.stream("GET", "/events/stream", params={"topic": "charger.*"}) as r:
            async for line in r.aiter_lines():
                if line == ": connected":  # subscribed: nothing from here on is missed
                    self.open.set()
                elif line.startswith("event: "):
                    topic = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((topic, json.loads(line.removeprefix("data: "))))

    def saw(self, topic: str, ocpp_id: str) -> int:
        return sum(1 for t, data in self.events if t == topic and data.get("ocpp_id") == ocpp_id)


async def until(check: Any, what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def location(cluster: Cluster, ocpp_id: str) -> tuple[str, int] | None:
    assert cluster.link is not None
    kv = await cluster.link.bucket("chargers")
    with contextlib.suppress(Exception):
        entry = await kv.get(ocpp_id)
        if entry.value and entry.revision:
            return orjson.loads(entry.value)["node"], entry.revision
    return None


async def test_two_nodes_route_commands_and_events(cluster: Cluster) -> None:
    upgraded = [n.id for n in cluster.nodes.values() if "Running upgrade" in n.log.read_text()]
    assert len(upgraded) == 1, f"migrations ran on {upgraded}, not once"
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    ocpp_id = f"CL-{uuid.uuid4().hex[:8]}"
    async with cluster.client("a") as api_a, cluster.client("b") as api_b:
        view = (await api_b.get("/cluster")).json()
        assert view["mode"] == "cluster" and view["node_id"] == "b"
        assert {n["id"] for n in view["nodes"]} == {"a", "b"}
        site = (await api_a.post("/sites", json={"name": "Cluster", "max_current": 63})).json()
        charger = (
            await api_a.post("/chargers", json={"ocpp_id": ocpp_id, "site_id": site["id"]})
        ).json()
        action = f"/chargers/{charger['id']}/actions/data-transfer"

        stream = Stream()
        reader = asyncio.create_task(stream.read(api_b))
        transfers: list[str] = []
        try:
            await asyncio.wait_for(stream.open.wait(), 10)
            first = await connect(a, ocpp_id, "on-a", transfers)
            # An event published on node A reaches node B's SSE stream, once.
            await until(lambda: _saw(stream, "charger.ready", ocpp_id), "B's SSE")
            assert stream.saw("charger.connected", ocpp_id) == 1

            # A REST action sent to node B reaches the charger on node A; its answer returns.
            answer = await api_b.post(action, json={"vendor_id": "t", "data": "via-b"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"] == "on-a:via-b"
            old = await location(cluster, ocpp_id)
            assert old is not None and old[0] == "a"

            # It reconnects to node B: reachable there at once, through either node.
            await first.close()
            second = await connect(b, ocpp_id, "on-b", transfers)
            await until(lambda: _is_on(cluster, ocpp_id, "b"), "the location to name b")
            for api, via in ((api_a, "via-a"), (api_b, "via-b2")):
                answer = await api.post(action, json={"vendor_id": "t", "data": via})
                assert answer.status_code == 200, answer.text
                assert answer.json()["data"] == f"on-b:{via}"

            # Online for every node, whatever order A's "left" and B's "came" arrived in.
            await until(lambda: _online(api_a, charger["id"]), "the charger online via A")

            # A command for the old connection's epoch is refused, and never delivered.
            sent = len(transfers)
            reply = await _raw_command(cluster, "b", ocpp_id, old[1], "stale")
            assert reply["error"]["type"] == "stale", reply
            current = await location(cluster, ocpp_id)
            assert current is not None and current[1] > old[1]
            retried = [await _raw_command(cluster, "b", ocpp_id, current[1], "x", "id-1")]
            retried.append(await _raw_command(cluster, "b", ocpp_id, current[1], "x", "id-1"))
            assert retried[0] == retried[1] == {"ok": {"status": "Accepted", "data": "on-b:x"}}
            assert transfers[sent:] == ["x"]  # the retried id applied once

            # Each node counts its side on /metrics: B routed the first action, A served it.
            scraped = {n: (await api_a.get(cluster.nodes[n].api + "/metrics")).text for n in "ab"}
            assert (
                'chargegrid_cluster_commands_total{direction="routed",outcome="ok"}'
                in (scraped["b"])
            )
            assert 'direction="served",outcome="ok"' in scraped["a"]
            assert "chargegrid_cluster_nats_connected 1.0" in scraped["a"]

            # Node B dies (kill -9) holding the charger: through A, a prompt 409 that says
            # B does not answer, not a hang until the action's 30 s deadline.
            b.process.kill()
            await b.process.wait()
            started = time.monotonic()
            dead = await api_a.post(action, json={"vendor_id": "t", "data": "late"})
            assert dead.status_code == 409, dead.text
            assert "node b, which does not answer" in dead.json()["detail"]
            assert time.monotonic() - started < 5
            await second.close()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader


async def _online(api: httpx.AsyncClient, charger_id: str) -> bool:
    online: bool = (await api.get(f"/chargers/{charger_id}")).json()["online"]
    return online


async def _saw(stream: Stream, topic: str, ocpp_id: str) -> bool:
    return stream.saw(topic, ocpp_id) > 0


async def _is_on(cluster: Cluster, ocpp_id: str, node: str) -> bool:
    found = await location(cluster, ocpp_id)
    return found is not None and found[0] == node


async def _raw_command(
    cluster: Cluster, node: str, ocpp_id: str, epoch: int, data: str, command_id: str = ""
) -> dict[str, Any]:
    """The routing protocol by hand (cluster/routing.py): a DataTransfer for ``epoch``."""
    assert cluster.link is not None
    body = {
        "id": command_id or uuid.uuid4().hex,
        "ocpp_id": ocpp_id,
        "epoch": epoch,
        "kind": "send",
        "action": "DataTransfer",
        "payload": {"vendorId": "t", "data": data},
        "timeout": 5,
    }
    subject = f"{cluster.name}.node.{node}.cmd"
    reply = await cluster.link.nc.request(subject, orjson.dumps(body), timeout=8)
    result: dict[str, Any] = orjson.loads(reply.data)
    return result
