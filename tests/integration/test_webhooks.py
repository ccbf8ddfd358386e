"""Webhook subscriptions (API) and delivery: signed, filtered, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from chargegrid.services.webhooks import SIGNATURE_HEADER, RetryPolicy, WebhookDispatcher
from tests.integration.conftest import Api, assert_problem

SECRET = "s" * 24
DEADLINE_S = 10.0


class Receiver:
    """An in-process webhook receiver that fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.calls: list[httpx.Request] = []
        self.accepted: list[httpx.Request] = []
        self.got_one = asyncio.Event()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if len(self.calls) <= self.failures:
            return httpx.Response(self.status)
        self.accepted.append(request)
        self.got_one.set()
        return httpx.Response(204)


@contextlib.asynccontextmanager
async def dispatching(api: Api, receiver: Receiver) -> AsyncIterator[WebhookDispatcher]:
    transport = httpx.MockTransport(receiver.handle)
    async with httpx.AsyncClient(transport=transport) as client:
        policy = RetryPolicy(attempts=3, first_delay_s=0.01, factor=2)
        dispatcher = WebhookDispatcher(api.db, api.bus, client, policy)
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await dispatcher.close()


async def test_crud_and_the_secret_stays_write_only(api: Api) -> None:
    body = {"url": "https://example.com/hook", "events": ["session.*"], "secret": SECRET}
    created = await api.ok("POST", "/webhooks", body)
    assert "secret" not in created and created["enabled"] is True
    path = f"/webhooks/{created['id']}"
    out = await api.ok("PATCH", path, {"enabled": False, "events": ["config.changed"]})
    assert out["enabled"] is False and out["events"] == ["config.changed"]
    assert [w["id"] for w in (await api.ok("GET", "/webhooks"))["data"]] == [created["id"]]
    assert (await api.call("DELETE", path)).status_code == 204
    assert_problem(await api.call("GET", path), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com", "events": ["config.changed"], "secret": SECRET}, "url"),
        ({"url": "https://example.com", "events": ["nope"], "secret": SECRET}, "events[0]"),
        ({"url": "https://example.com", "events": [], "secret": SECRET}, "events"),
        ({"url": "https://example.com", "events": ["config.changed"], "secret": "x"}, "secret"),
    ],
)
async def test_bad_subscriptions_are_422(api: Api, body: dict[str, object], field: str) -> None:
    assert_problem(await api.call("POST", "/webhooks", body), 422, field)


async def test_owner_may_not_create_webhooks(api: Api) -> None:
    body = {"url": "https://example.com/h", "events": ["config.changed"], "secret": SECRET}
    assert_problem(await api.call("POST", "/webhooks", body, role="owner"), 403)


async def test_delivery_is_signed_and_filtered(api: Api) -> None:
    site = await api.site()
    await api.ok(
        "POST",
        "/webhooks",
        {"url": "https://receiver.test/h", "events": ["config.changed"], "secret": SECRET},
    )
    receiver = Receiver()
    async with dispatching(api, receiver):
        api.bus.publish("session.started", {"site_id": site["id"]})  # not subscribed
        await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 20})
        async with asyncio.timeout(DEADLINE_S):
            await receiver.got_one.wait()
    request = receiver.accepted[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    body = json.loads(request.content)
    assert body["event"] == "config.changed" and body["data"]["site_id"] == site["id"]
    assert [json.loads(r.content)["event"] for r in receiver.calls] == ["config.changed"]


async def test_failed_deliveries_are_retried_until_accepted(api: Api) -> None:
    await api.ok(
        "POST",
        "/webhooks",
        {"url": "https://receiver.test/h", "events": ["meter.*"], "secret": SECRET},
    )
    receiver = Receiver(failures=2)
    async with dispatching(api, receiver) as dispatcher:
        api.bus.publish("meter.reading", {"site_id": str(uuid.uuid4()), "current_l1": 1.0})
        async with asyncio.timeout(DEADLINE_S):
            await receiver.got_one.wait()
    assert len(receiver.calls) == 3 and dispatcher.delivered == 1
    assert len({r.headers["X-Chargegrid-Delivery"] for r in receiver.calls}) == 1


async def test_site_webhook_gets_only_its_sites_events(api: Api) -> None:
    mine, other = await api.site(name="Mine"), await api.site(name="Other")
    await api.ok(
        "POST",
        "/webhooks",
        {
            "url": "https://receiver.test/h",
            "events": ["config.changed"],
            "secret": SECRET,
            "site_id": mine["id"],
        },
        role="service",
        sites=[uuid.UUID(mine["id"])],
    )
    receiver = Receiver()
    async with dispatching(api, receiver):
        await api.ok("PATCH", f"/sites/{other['id']}", {"name": "Other 2"})
        await api.ok("PATCH", f"/sites/{mine['id']}", {"name": "Mine 2"})
        async with asyncio.timeout(DEADLINE_S):
            await receiver.got_one.wait()
    sites = [json.loads(r.content)["data"]["site_id"] for r in receiver.calls]
    assert sites == [mine["id"]]


async def test_a_cluster_delivers_each_event_once_from_the_node_that_published_it(
    api: Api,
) -> None:
    """Two nodes' buses linked as the cluster bridge links them: each node's dispatcher
    delivers only its own events, and a webhook created through one node is matched on
    the other at once (its config.changed arrives there through the bridge)."""
    from chargegrid.bus.memory import EventBus

    node_b, node_a = api.bus, EventBus()  # the API runs on node B
    node_b.forward = lambda e: node_a.deliver(e.topic, e.payload, e.at, "b")
    node_a.forward = lambda e: node_b.deliver(e.topic, e.payload, e.at, "a")
    receiver = Receiver()
    transport = httpx.MockTransport(receiver.handle)
    async with httpx.AsyncClient(transport=transport) as client:
        dispatchers = [
            WebhookDispatcher(api.db, bus, client, RetryPolicy(attempts=1), node_id=node)
            for bus, node in ((node_a, "a"), (node_b, "b"))
        ]
        tasks = [asyncio.create_task(d.run()) for d in dispatchers]
        try:
            node_a.publish("session.started", {"site_id": None})  # no webhook yet: cached
            await asyncio.sleep(0.05)
            await api.ok(
                "POST",
                "/webhooks",
                {"url": "https://receiver.test/h", "events": ["session.*"], "secret": SECRET},
            )
            node_a.publish("session.started", {"site_id": None, "n": 1})
            node_b.publish("session.stopped", {"site_id": None, "n": 2})
            async with asyncio.timeout(DEADLINE_S):
                while len(receiver.accepted) < 2:
                    receiver.got_one.clear()
                    await receiver.got_one.wait()
            await asyncio.sleep(0.1)  # a duplicate would arrive within this
        finally:
            for task in tasks:
                task.cancel()
            for d in dispatchers:
                await d.close()
    got = sorted(
        (json.loads(r.content)["event"], r.headers["X-Chargegrid-Delivery"].split("/")[1][0])
        for r in receiver.calls
    )
    assert got == [("session.started", "a"), ("session.stopped", "b")]
