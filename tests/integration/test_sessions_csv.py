"""Sessions history: filters, CSV download (every row, parsed back), totals."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid.store.models import ChargingSession
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api, assert_problem

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _session(
    api: Api,
    charger_id: str,
    started: datetime,
    *,
    minutes: int | None = 60,
    energy_wh: float = 0.0,
    id_tag: str = "TAG1",
    status: str = "Accepted",
    stop_reason: str | None = "Local",
) -> str:
    async with UnitOfWork(api.db) as uow:
        session = ChargingSession(
            charger_id=uuid.UUID(charger_id),
            evse_number=1,
            connector_id=1,
            transaction_id=await uow.sessions.allocate_transaction_id(),
            id_tag=id_tag,
            meter_start=0,
            started_at=started,
            energy_wh=energy_wh,
            authorization_status=status,
        )
        if minutes is not None:
            session.stopped_at = started + timedelta(minutes=minutes)
            session.stop_reason = stop_reason
            session.meter_stop = energy_wh
        uow.sessions.add(session)
        await uow.commit()
        return str(session.id)


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _fleet(api: Api) -> dict[str, Any]:
    site = await api.site(name="Depot")
    other = await api.site(name="Elsewhere")
    a = await api.charger(site["id"], ocpp_id="CP-A")
    b = await api.charger(other["id"], ocpp_id="CP-B")
    ids = {
        "a1": await _session(api, a["id"], T0, energy_wh=7400.5, id_tag="=CMD()"),
        "a2": await _session(api, a["id"], T0 + timedelta(days=1), energy_wh=11000),
        "a3": await _session(api, a["id"], T0 + timedelta(days=2), minutes=None, energy_wh=500),
        "ar": await _session(api, a["id"], T0 + timedelta(days=3), status="Invalid", minutes=None),
        "b1": await _session(api, b["id"], T0 + timedelta(hours=1), energy_wh=2000, id_tag="T2"),
    }
    return {"site": site, "other": other, "a": a, "b": b, "ids": ids}


async def test_filters_by_date_tag_status_and_site(api: Api) -> None:
    f = await _fleet(api)
    ids = f["ids"]

    async def listed(**params: Any) -> set[str]:
        body = await api.ok("GET", "/sessions", params=params)
        return {s["id"] for s in body["data"]}

    day2 = (T0 + timedelta(days=1)).isoformat()
    assert await listed(**{"from": day2}) == {ids["a2"], ids["a3"], ids["ar"]}
    assert await listed(**{"from": T0.isoformat(), "to": day2}) == {ids["a1"], ids["b1"]}
    assert await listed(id_tag="T2") == {ids["b1"]}
    assert await listed(status="refused") == {ids["ar"]}
    assert await listed(status="active") == {ids["a3"]}
    assert await listed(status="completed", site_id=f["site"]["id"]) == {ids["a1"], ids["a2"]}
    assert await listed(charger_id=f["b"]["id"]) == {ids["b1"]}
    # A site-scoped token sees only its site, whatever it asks for.
    body = await api.ok("GET", "/sessions", sites=[uuid.UUID(f["other"]["id"])], role="viewer")
    assert [s["id"] for s in body["data"]] == [ids["b1"]]

    bad = await api.call("GET", "/sessions", params={"status": "running"})
    assert_problem(bad, 422, "status")
    naive = await api.call("GET", "/sessions", params={"from": "2026-03-01T00:00:00"})
    assert_problem(naive, 422, "from")
    backwards = await api.call("GET", "/sessions", params={"from": day2, "to": T0.isoformat()})
    assert_problem(backwards, 422, "to")


async def test_csv_has_every_matching_row_not_one_page(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"], ocpp_id="CP-MANY")
    many = [
        await _session(api, charger["id"], T0 + timedelta(minutes=i), energy_wh=i)
        for i in range(520)  # more than one keyset page (500)
    ]
    response = await api.call(
        "GET", "/sessions", params={"format": "csv", "site_id": site["id"], "limit": 5}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = _parse(response.text)
    assert len(rows) == 520 and {r["session_id"] for r in rows} == set(many)
    assert rows[0]["started_at"] > rows[-1]["started_at"]  # newest first, as the list


async def test_csv_columns_by_accept_header(api: Api) -> None:
    f = await _fleet(api)
    ids = f["ids"]
    headers = {"Authorization": f"Bearer {await api.token()}", "Accept": "text/csv"}
    response = await api.client.get(
        "/api/v1/sessions", params={"site_id": f["site"]["id"]}, headers=headers
    )
    assert response.status_code == 200, response.text
    rows = {r["session_id"]: r for r in _parse(response.text)}
    assert set(rows) == {ids["a1"], ids["a2"], ids["a3"], ids["ar"]}
    first = rows[ids["a1"]]
    assert first["site_name"] == "Depot" and first["charger_ocpp_id"] == "CP-A"
    assert first["evse_number"] == "1" and first["connector_id"] == "1"
    assert first["started_at"] == "2026-03-01T08:00:00Z"
    assert first["stopped_at"] == "2026-03-01T09:00:00Z"
    assert first["duration_s"] == "3600"
    assert first["energy_wh"] == "7400.5" and first["energy_kwh"] == "7.401"
    assert first["stop_reason"] == "Local" and first["status"] == "completed"
    # A tag that a spreadsheet would run as a formula is defused.
    assert first["id_tag"] == "'=CMD()"
    assert rows[ids["ar"]]["status"] == "refused" and rows[ids["ar"]]["duration_s"] == "0"
    assert rows[ids["ar"]]["start_authorization"] == "Invalid"
    assert rows[ids["a3"]]["status"] == "active" and rows[ids["a3"]]["stopped_at"] == ""
    # JSON stays the default, and wins when preferred.
    listed = await api.client.get(
        "/api/v1/sessions",
        headers={"Authorization": headers["Authorization"], "Accept": "application/json"},
    )
    assert listed.headers["content-type"].startswith("application/json")


async def test_summary_totals_match_the_filter(api: Api) -> None:
    f = await _fleet(api)
    summary = await api.ok(
        "GET", "/sessions/summary", params={"site_id": f["site"]["id"], "status": "completed"}
    )
    assert summary["count"] == 2
    assert summary["energy_wh"] == 18400.5 and summary["energy_kwh"] == 18.401
    assert summary["duration_s"] == 7200
    assert summary["by_status"] == {"completed": 2}
    assert summary["first_started_at"].startswith("2026-03-01T08:00:00")
    everything = await api.ok("GET", "/sessions/summary")
    assert everything["count"] == 5
    assert everything["by_status"] == {"completed": 3, "active": 1, "refused": 1}
    # The same filters are checked the same way.
    assert_problem(
        await api.call("GET", "/sessions/summary", params={"status": "x"}), 422, "status"
    )
