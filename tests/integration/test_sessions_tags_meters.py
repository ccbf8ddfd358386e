"""Read APIs for sessions and meter values; id tags; electricity meters and readings."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from chargegrid.store.models import Charger, ChargingSession, MeterValue
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api, assert_problem

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


async def _record_session(
    api: Api,
    charger_id: str,
    *,
    stopped: bool,
    samples: int,
    started: datetime = T0,
    authorization_status: str = "Accepted",
) -> str:
    """Store a session the way the OCPP server does, through the repositories."""
    async with UnitOfWork(api.db) as uow:
        transaction_id = await uow.sessions.allocate_transaction_id()
        session = ChargingSession(
            charger_id=uuid.UUID(charger_id),
            evse_number=1,
            connector_id=1,
            transaction_id=transaction_id,
            id_tag="TAG1",
            meter_start=1000,
            started_at=started,
            energy_wh=0,
            authorization_status=authorization_status,
        )
        uow.sessions.add(session)
        await uow.sessions.flush()
        uow.meter_values.add_all(
            [
                MeterValue(
                    session_id=session.id,
                    charger_id=session.charger_id,
                    evse_number=1,
                    timestamp=T0 + timedelta(minutes=i),
                    measurand="Energy.Active.Import.Register",
                    unit="Wh",
                    value=1000 + 100 * i,
                )
                for i in range(samples)
            ]
        )
        if stopped:
            session.stopped_at = T0 + timedelta(hours=1)
            session.meter_stop = 5000
            session.energy_wh = 4000
        await uow.commit()
        return str(session.id)


async def test_sessions_list_detail_and_meter_values(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    active = await _record_session(api, charger["id"], stopped=False, samples=5)
    done = await _record_session(api, charger["id"], stopped=True, samples=0)

    listed = await api.ok("GET", "/sessions", params={"charger_id": charger["id"]})
    assert {s["id"] for s in listed["data"]} == {active, done}
    only_active = await api.ok("GET", "/sessions", params={"active": "true"})
    assert [s["id"] for s in only_active["data"]] == [active]
    by_site = await api.ok("GET", "/sessions", params={"site_id": site["id"], "active": "false"})
    assert [s["id"] for s in by_site["data"]] == [done]

    detail = await api.ok("GET", f"/sessions/{done}")
    assert detail["energy_wh"] == 4000 and detail["id_tag"] == "TAG1"
    assert detail["started_at"].startswith("2026-11-21T10:00:00")
    assert detail["active"] is False and detail["transaction_id"] is not None

    values: list[float] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", f"/sessions/{active}/meter-values", params=params)
        values += [v["value"] for v in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert values == [1000, 1100, 1200, 1300, 1400]
    assert len((await api.ok("GET", f"/sessions/{active}"))["meter_values"]) == 5


async def test_sessions_list_newest_first_across_pages(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    made = [
        await _record_session(
            api, charger["id"], stopped=True, samples=0, started=T0 + timedelta(minutes=m)
        )
        for m in (5, 1, 9, 3)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", "/sessions", params=params)
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [made[2], made[0], made[3], made[1]]


async def test_transaction_ids_are_unique(api: Api) -> None:
    async with UnitOfWork(api.db) as uow:
        ids = [await uow.sessions.allocate_transaction_id() for _ in range(5)]
        await uow.commit()
    assert len(set(ids)) == 5


async def test_sessions_outside_the_scope_are_hidden(api: Api) -> None:
    mine, theirs = await api.site(name="Mine"), await api.site(name="Theirs")
    charger = await api.charger(theirs["id"])
    session_id = await _record_session(api, charger["id"], stopped=False, samples=1)
    scope = [uuid.UUID(mine["id"])]
    listed = await api.ok("GET", "/sessions", role="viewer", sites=scope)
    assert listed["data"] == []
    assert_problem(
        await api.call("GET", f"/sessions/{session_id}", role="viewer", sites=scope), 404
    )


async def test_id_tag_crud(api: Api) -> None:
    created = await api.ok(
        "POST",
        "/id-tags",
        {"id_tag": "04A2B3C4", "expires_at": "2030-01-01T00:00:00Z", "parent_id_tag": "FLEET"},
    )
    assert created["status"] == "Accepted"
    assert created["expires_at"].startswith("2030-01-01T00:00:00")
    path = f"/id-tags/{created['id']}"
    assert (await api.ok("PATCH", path, {"status": "Blocked"}))["status"] == "Blocked"
    assert (await api.ok("PATCH", path, {"expires_at": None}))["expires_at"] is None
    assert_problem(await api.call("POST", "/id-tags", {"id_tag": "04A2B3C4"}), 409)
    assert_problem(await api.call("PATCH", path, {"status": "Maybe"}), 422, "status")
    response = await api.call("PATCH", path, {"expires_at": "2030-01-01T00:00:00"})
    assert_problem(response, 422, "expires_at")  # no time zone: ambiguous
    assert_problem(await api.call("POST", "/id-tags", {"id_tag": "x" * 37}), 422, "id_tag")
    assert (await api.call("DELETE", path)).status_code == 204
    assert_problem(await api.call("GET", path), 404)


async def test_site_tags_for_scoped_owners(api: Api) -> None:
    site = await api.site()
    scope = [uuid.UUID(site["id"])]
    await api.ok("POST", "/id-tags", {"id_tag": "GLOBAL"})
    own = await api.ok(
        "POST", "/id-tags", {"id_tag": "LOCAL", "site_id": site["id"]}, role="owner", sites=scope
    )
    listed = await api.ok("GET", "/id-tags", role="owner", sites=scope)
    assert [t["id_tag"] for t in listed["data"]] == ["LOCAL"]
    assert own["site_id"] == site["id"]
    # A scoped token cannot make operator-wide tags.
    response = await api.call("POST", "/id-tags", {"id_tag": "X"}, role="owner", sites=scope)
    assert_problem(response, 404)


async def test_meter_reading_is_stored_and_published(api: Api) -> None:
    site = await api.site()
    meter = await api.ok("POST", "/electricity-meters", {"name": "Building", "site_id": site["id"]})
    assert meter["max_age_s"] == 60 and meter["last_reading"] is None
    reading = {
        "timestamp": "2026-11-21T10:00:00Z",
        "current_l1": 12.5,
        "current_l2": 3,
        "current_l3": 0,
    }
    with api.bus.subscribe("meter.reading") as events:
        out = await api.ok("POST", f"/electricity-meters/{meter['id']}/readings", reading)
        event = events.get_nowait()
    assert out["current_l1"] == 12.5
    assert event is not None
    assert event.payload["meter_id"] == meter["id"] and event.payload["site_id"] == site["id"]
    assert (event.payload["current_l1"], event.payload["current_l2"]) == (12.5, 3)
    read = await api.ok("GET", f"/electricity-meters/{meter['id']}")
    assert read["last_reading"]["current_l1"] == 12.5


async def test_meter_validation_and_delete_clears_references(api: Api) -> None:
    site = await api.site()
    meter = await api.ok("POST", "/electricity-meters", {"name": "M", "site_id": site["id"]})
    path = f"/electricity-meters/{meter['id']}/readings"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"current_l1": 1}, "timestamp"),
        ({"timestamp": "2026-11-21T10:00:00", "current_l1": 1}, "timestamp"),
        ({"timestamp": "2026-11-21T10:00:00Z", "current_l1": "high"}, "current_l1"),
    ]
    for body, field in bad:
        assert_problem(await api.call("POST", path, body), 422, field)
    circuit = await api.circuit(site["id"], electricity_meter_id=meter["id"])
    await api.ok("PATCH", f"/sites/{site['id']}", {"electricity_meter_id": meter["id"]})
    assert (await api.call("DELETE", f"/electricity-meters/{meter['id']}")).status_code == 204
    assert (await api.ok("GET", f"/circuits/{circuit['id']}"))["electricity_meter_id"] is None
    assert (await api.ok("GET", f"/sites/{site['id']}"))["electricity_meter_id"] is None


async def test_a_refused_start_is_never_active(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    running = await _record_session(api, charger["id"], stopped=False, samples=0)
    refused = await _record_session(
        api, charger["id"], stopped=False, samples=0, authorization_status="ConcurrentTx"
    )
    active = await api.ok("GET", "/sessions", params={"active": "true"})
    assert [s["id"] for s in active["data"]] == [running]
    inactive = await api.ok("GET", "/sessions", params={"active": "false"})
    assert [s["id"] for s in inactive["data"]] == [refused]
    detail = await api.ok("GET", f"/sessions/{refused}")
    assert detail["active"] is False and detail["stopped_at"] is None
    assert detail["authorization_status"] == "ConcurrentTx"


async def test_operator_ends_a_session_audited_and_announced(api: Api) -> None:
    site, other = await api.site(), await api.site(name="Other")
    charger = await api.charger(site["id"])
    session_id = await _record_session(api, charger["id"], stopped=False, samples=0)
    path = f"/sessions/{session_id}/actions/end"
    body = {"reason": "charger removed from the wall"}
    assert_problem(await api.call("POST", path, body, role="viewer"), 403)
    assert_problem(await api.call("POST", path, body, sites=[uuid.UUID(other["id"])]), 404)
    assert_problem(await api.call("POST", path, {"reason": ""}), 422, "reason")
    assert_problem(await api.call("POST", path, {}), 422, "reason")
    assert (await api.ok("GET", f"/sessions/{session_id}"))["active"] is True

    async with api.bus.subscribe("session.stopped") as events:
        ended = await api.ok("POST", path, body, role="owner", sites=[uuid.UUID(site["id"])])
        event = await asyncio.wait_for(events.get(), 5)
    assert ended["active"] is False and ended["stopped_at"] is not None
    assert ended["stop_reason"] == "Operator"
    assert ended["ended_by"].startswith("owner:")
    assert ended["end_reason"] == "charger removed from the wall"
    assert event.payload["session_id"] == session_id
    assert event.payload["charger_id"] == charger["id"]
    assert event.payload["reason"] == "Operator"
    assert event.payload["ended_by"] == ended["ended_by"]
    active = await api.ok("GET", "/sessions", params={"active": "true"})
    assert active["data"] == []
    assert_problem(await api.call("POST", path, body, role="service"), 409)
    unknown = f"/sessions/{uuid.uuid4()}/actions/end"
    assert_problem(await api.call("POST", unknown, body), 404)


async def test_sessions_on_a_charger_offline_for_long_are_suspect(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    session_id = await _record_session(api, charger["id"], stopped=False, samples=0)
    done = await _record_session(api, charger["id"], stopped=True, samples=0)

    async def offline_since(seconds: float, online: bool = False) -> None:
        async with api.db.session() as s:
            await s.execute(
                update(Charger)
                .where(Charger.id == uuid.UUID(charger["id"]))
                .values(
                    online=online,
                    last_seen_at=datetime.now(UTC) - timedelta(seconds=seconds),
                )
            )

    async def suspect() -> dict[str, bool]:
        listed = await api.ok("GET", "/sessions", params={"charger_id": charger["id"]})
        return {s["id"]: s["suspect"] for s in listed["data"]}

    await offline_since(60)  # below session_suspect_after_s (600 s by default)
    assert await suspect() == {session_id: False, done: False}
    await offline_since(3600)
    assert await suspect() == {session_id: True, done: False}
    assert (await api.ok("GET", f"/sessions/{session_id}"))["suspect"] is True
    await offline_since(3600, online=True)  # back: it says what it is doing
    assert await suspect() == {session_id: False, done: False}


async def test_a_new_charger_reports_meter_values_every_10_s(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    assert charger["meter_value_interval"] == 10
    patched = await api.ok("PATCH", f"/chargers/{charger['id']}", {"meter_value_interval": None})
    assert patched["meter_value_interval"] == 10
