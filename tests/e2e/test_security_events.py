"""Security events end to end: a charger's SecurityEventNotification (1.6 extension and
2.0.1, sent by the independent ``ocpp`` package over a real socket) is stored, listed,
published as ``charger.security_event`` (event stream, webhooks); GetLog for its logs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v201 import call as call201
from sqlalchemy import select

from chargegrid.api.routers.events import visible
from chargegrid.bus.memory import Event
from chargegrid.services.auth import Principal, Role
from chargegrid.services.webhooks import Target
from chargegrid.store.ocpp_tables import charger_notices, security_events
from tests.e2e.ocpp201.station import connect as connect_201
from tests.e2e.security_stack import Stack, security_stack
from tests.e2e.test_password_rotation import Charger16, online_16, wait_online

pytestmark = pytest.mark.e2e

TOPIC = "charger.security_event"


class LoggingCharger(Charger16):
    @on("GetLog")  # type: ignore[misc]
    def on_get_log(self, log_type: str, request_id: int, log: dict[str, Any], **_: Any) -> Any:
        self.config["GetLog"] = f"{log_type} {request_id} {log['remote_location']}"
        return call_result.GetLog(status="Accepted", filename="security.log")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with security_stack(tmp_path) as s:
        yield s


async def next_event(subscription: Any) -> Event:
    event: Event = await asyncio.wait_for(subscription.get(), 10)
    return event


async def test_16_security_event_is_stored_listed_and_published(stack: Stack) -> None:
    charger = await stack.add_charger("SE-16")
    async with (
        stack.bus.subscribe(TOPIC) as subscription,
        online_16(stack, "SE-16", "unused-password-000") as cp,
    ):
        at = now()
        await cp.call(
            call.SecurityEventNotification(
                type="TamperDetectionActivated", timestamp=at, tech_info="lid opened"
            )
        )
        event = await next_event(subscription)
        payload = dict(event.payload)
        assert payload["source"] == "charger"
        assert (payload["type"], payload["tech_info"]) == ("TamperDetectionActivated", "lid opened")
        assert payload["severity"] == "critical"  # on the OCPP list's critical ones
        assert payload["ocpp_id"] == "SE-16" and payload["charger_id"] == charger["id"]
        assert payload["site_id"] == charger["site_id"]
        # A non-critical one, then a broken timestamp: refused, nothing stored.
        await cp.call(
            call.SecurityEventNotification(type="InvalidMessages", timestamp=at, tech_info=None)
        )
        assert (await next_event(subscription)).payload["severity"] == "info"
        with pytest.raises(OCPPError):
            await cp.call(
                call.SecurityEventNotification(
                    type="ResetOrReboot", timestamp="1970-01-01T00:00:00Z", tech_info=None
                ),
                suppress=False,
            )
    # In the log, oldest first, page by page; still kept as a notice too.
    first = await stack.ok("GET", f"/chargers/{charger['id']}/security-events?limit=1")
    assert [e["type"] for e in first["data"]] == ["TamperDetectionActivated"]
    assert first["data"][0]["id"] == payload["id"]
    second = await stack.ok(
        "GET", f"/chargers/{charger['id']}/security-events?limit=1&cursor={first['next_cursor']}"
    )
    assert [e["type"] for e in second["data"]] == ["InvalidMessages"]
    assert second["next_cursor"] is None
    rows = await stack.csms.rows(select(security_events.c.type))
    assert sorted(r.type for r in rows) == ["InvalidMessages", "TamperDetectionActivated"]
    notices = await stack.csms.rows(select(charger_notices.c.action))
    assert [n.action for n in notices].count("SecurityEventNotification") == 2
    # Subscribable by webhooks, visible on a site-scoped event stream.
    hook = await stack.ok(
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": [TOPIC], "secret": "s" * 16},
    )
    assert hook["events"] == [TOPIC]
    target = Target(uuid.uuid4(), "http://x", (TOPIC,), "s" * 16, charger["site_id"])
    assert target.wants(event)
    scoped = Principal(Role.VIEWER, frozenset({uuid.UUID(charger["site_id"])}))
    assert visible(scoped, event)
    elsewhere = Principal(Role.VIEWER, frozenset({uuid.uuid4()}))
    assert not visible(elsewhere, event)


async def test_201_security_event(stack: Stack) -> None:
    charger = await stack.add_charger("SE-201")
    station, ws, task = await connect_201(stack.csms, "SE-201")
    try:
        assert (await station.boot()).status == "Accepted"
        await wait_online(stack, "SE-201")
        async with stack.bus.subscribe(TOPIC) as subscription:
            await station.call(
                call201.SecurityEventNotification(
                    type="SettingSystemTime", timestamp=now(), tech_info="NTP"
                )
            )
            event = await next_event(subscription)
        assert (event.payload["type"], event.payload["severity"]) == (
            "SettingSystemTime",
            "critical",
        )
    finally:
        await ws.close()
        task.cancel()
    listed = await stack.ok("GET", f"/chargers/{charger['id']}/security-events")
    assert [(e["source"], e["type"]) for e in listed["data"]] == [("charger", "SettingSystemTime")]


async def test_get_log_asks_for_the_security_log(stack: Stack) -> None:
    charger = await stack.add_charger("SE-LOG")
    async with online_16(stack, "SE-LOG", "unused-password-000", LoggingCharger) as cp:
        answer = await stack.ok(
            "POST",
            f"/chargers/{charger['id']}/actions/get-log",
            {"log_type": "SecurityLog", "remote_location": "https://logs.example.com/upload"},
        )
        assert (answer["status"], answer["filename"]) == ("Accepted", "security.log")
        request_id = answer["request_id"]
        assert cp.config["GetLog"] == f"SecurityLog {request_id} https://logs.example.com/upload"
        await cp.call(call.LogStatusNotification(status="Uploaded", request_id=request_id))
        rows = await stack.csms.rows(
            select(charger_notices.c.payload).where(
                charger_notices.c.action == "LogStatusNotification"
            )
        )
        assert [r.payload for r in rows] == [{"status": "Uploaded", "requestId": request_id}]
        bad = await stack.call(
            "POST",
            f"/chargers/{charger['id']}/actions/get-log",
            {"log_type": "AuditLog", "remote_location": "https://x"},
        )
        assert bad.status_code == 422 and "log_type" in bad.text
