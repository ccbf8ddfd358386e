"""The event and audit log: charger events recorded from the bus, configuration
changes with who made them and each field's old and new value, ``GET /events``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid import events as ev
from chargegrid.services.auth import Role, create_token
from chargegrid.services.configure.expiry import expire_overrides
from chargegrid.services.event_log import EventRecorder
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import API, Api, assert_problem


async def _named_token(api: Api, role: Role, name: str) -> str:
    async with UnitOfWork(api.db) as uow:
        return await create_token(uow, role, None, name)


async def _events(api: Api, **params: Any) -> list[dict[str, Any]]:
    body = await api.ok("GET", "/events", params=params)
    data: list[dict[str, Any]] = body["data"]
    return data


async def test_audit_shows_who_changed_max_current_from_what_to_what(api: Api) -> None:
    site = await api.site(name="Depot", max_current=63)
    token = await _named_token(api, Role.SERVICE, "alice (electrician)")
    response = await api.client.patch(
        f"{API}/sites/{site['id']}",
        json={"max_current": 50, "name": "Depot North"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text

    changes = await _events(api, site_id=site["id"], type="config.changed")
    updated = [e for e in changes if e["data"]["action"] == "updated"]
    assert len(updated) == 1
    entry = updated[0]
    assert entry["actor"] == "alice (electrician)" and entry["actor_role"] == "service"
    assert entry["subject"] == "site" and entry["subject_id"] == site["id"]
    assert entry["data"]["changes"]["max_current"] == {"old": 63, "new": 50}
    assert entry["data"]["changes"]["name"] == {"old": "Depot", "new": "Depot North"}
    assert set(entry["data"]["changes"]) == {"max_current", "name"}
    # The creation is there too, older, by the fixture's admin token.
    created = [e for e in changes if e["data"]["action"] == "created"]
    assert created and created[0]["actor_role"] == "admin"
    assert created[0]["data"]["changes"]["max_current"] == {"old": None, "new": 63}
    assert changes.index(entry) < changes.index(created[0])  # newest first


async def test_refused_change_leaves_no_entry_and_secrets_are_not_logged(api: Api) -> None:
    site = await api.site()
    bad = await api.call("PATCH", f"/sites/{site['id']}", {"max_current": -5})
    assert bad.status_code == 422
    charger = await api.charger(site["id"], password="correct horse battery")
    await api.ok("PATCH", f"/chargers/{charger['id']}", {"password": "another long one"})
    entries = await _events(api, site_id=site["id"])
    assert [e["data"]["action"] for e in entries if e["subject"] == "site"] == ["created"]
    charger_entries = await _events(api, charger_id=charger["id"])
    assert charger_entries, "the charger's creation and update are logged under it"
    text = repr(charger_entries)
    assert "correct horse" not in text and "another long one" not in text
    updated = next(e for e in charger_entries if e["data"]["action"] == "updated")
    assert updated["data"]["changes"]["password_hash"] == {"old": "(secret)", "new": "(secret)"}


async def test_lapsed_override_is_logged_as_the_systems_change(api: Api) -> None:
    site = await api.site(max_current=63)
    await api.ok(
        "PATCH", f"/sites/{site['id']}", {"available_current": 20, "available_current_ttl_s": 1}
    )
    deadline = asyncio.get_running_loop().time() + 10
    while await expire_overrides(api.db, api.bus) == 0:
        assert asyncio.get_running_loop().time() < deadline, "the override never lapsed"
        await asyncio.sleep(0.1)
    entry = (await _events(api, site_id=site["id"], type="config.changed"))[0]
    assert entry["actor"] == "system"
    assert entry["data"]["changes"]["available_current_l1"] == {"old": 20, "new": None}


async def test_charger_events_recorded_from_the_bus(api: Api) -> None:
    site = await api.site()
    other = await api.site()
    charger = await api.charger(site["id"], ocpp_id="CP-LOG")
    elsewhere = await api.charger(other["id"], ocpp_id="CP-ELSE")
    recorder = EventRecorder(api.db.engine, api.bus)
    link = {"charger_id": charger["id"], "ocpp_id": "CP-LOG"}
    api.bus.publish(ev.CHARGER_CONNECTED, link | {"ocpp_version": "1.6"})
    api.bus.publish(ev.CHARGER_READY, link | {"rebooted": True})
    api.bus.publish(
        ev.CHARGER_STATUS_CHANGED,
        link
        | {
            "connector_id": 1,
            "ocpp_status": "Faulted",
            "error_code": "GroundFailure",
            "vendor_error_code": "E42",
            "timestamp": "2026-03-01T08:00:00Z",
        },
    )
    api.bus.publish(ev.CHARGER_DISCONNECTED, {"charger_id": elsewhere["id"], "ocpp_id": "X"})
    # An operator's change is audited where it is made, not again from the bus.
    api.bus.publish(ev.CONFIG_CHANGED, {"kind": "site", "id": site["id"], "action": "updated"})
    # What the charger's own exchange learnt is recorded.
    api.bus.publish(ev.CONFIG_CHANGED, link | {"config_sync": "applied"})
    await recorder.drain()
    recorder.close()
    assert recorder.recorded == 5

    mine = await _events(api, charger_id=charger["id"])
    assert [e["type"] for e in mine] == [
        ev.CONFIG_CHANGED,
        ev.CHARGER_STATUS_CHANGED,
        ev.CHARGER_READY,
        ev.CHARGER_CONNECTED,
        ev.CONFIG_CHANGED,  # its creation through the API (the audit)
    ]
    status = mine[1]
    assert status["site_id"] == site["id"]  # learnt from the charger
    assert status["data"]["error_code"] == "GroundFailure"
    assert status["data"]["vendor_error_code"] == "E42"
    assert [e["type"] for e in await _events(api, site_id=site["id"], type="charger.*")] == [
        ev.CHARGER_STATUS_CHANGED,
        ev.CHARGER_READY,
        ev.CHARGER_CONNECTED,
    ]
    # A token scoped to the other site sees none of this site's entries.
    scoped = await api.ok("GET", "/events", sites=[uuid.UUID(other["id"])], role="viewer")
    assert {e["site_id"] for e in scoped["data"]} == {other["id"]}
    assert ev.CHARGER_DISCONNECTED in {e["type"] for e in scoped["data"]}


async def test_pages_time_window_and_bad_input(api: Api) -> None:
    site = await api.site()
    for n in range(7):
        await api.ok("PATCH", f"/sites/{site['id']}", {"name": f"name {n}"})
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"site_id": site["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = await api.ok("GET", "/events", params=params)
        seen += [e["id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await _events(api, site_id=site["id"], **{"from": later}) == []
    assert len(await _events(api, site_id=site["id"], to=later)) == 8

    assert_problem(await api.call("GET", "/events", params={"from": "yesterday"}), 422, "from")
    naive = await api.call("GET", "/events", params={"from": "2026-03-01T00:00:00"})
    assert_problem(naive, 422, "from")
    assert_problem(await api.call("GET", "/events", params={"cursor": "!!"}), 422, "cursor")
    backwards = {"from": later, "to": datetime.now(UTC).isoformat()}
    assert_problem(await api.call("GET", "/events", params=backwards), 422, "to")
