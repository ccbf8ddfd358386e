"""Consumption per day or month in the site's time zone, per site/circuit/charger/tag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chargegrid.store.models import ChargingSession, MeterValue
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api, assert_problem

# Oslo is UTC+1 in early March 2026: local 22:00 on the 1st is 21:00 UTC.
OVER_MIDNIGHT = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = {"from": "2026-03-01T00:00:00+01:00", "to": "2026-03-03T00:00:00+01:00"}


async def _session(
    api: Api,
    charger_id: str,
    started: datetime,
    hours: float,
    energy_wh: float,
    id_tag: str,
    *,
    status: str = "Accepted",
    register: tuple[float, float] | None = None,
) -> None:
    async with UnitOfWork(api.db) as uow:
        session = ChargingSession(
            charger_id=uuid.UUID(charger_id),
            evse_number=1,
            connector_id=1,
            transaction_id=await uow.sessions.allocate_transaction_id(),
            id_tag=id_tag,
            meter_start=register[0] if register else 0,
            started_at=started,
            stopped_at=started + timedelta(hours=hours),
            energy_wh=energy_wh,
            authorization_status=status,
        )
        uow.sessions.add(session)
        await uow.sessions.flush()
        if register:
            uow.meter_values.add_all(
                [
                    MeterValue(
                        session_id=session.id,
                        charger_id=session.charger_id,
                        evse_number=1,
                        timestamp=started + timedelta(minutes=i * 30),
                        measurand="Energy.Active.Import.Register",
                        unit="Wh",
                        value=value,
                    )
                    for i, value in enumerate(register)
                ]
            )
        await uow.commit()


async def _site(api: Api) -> dict[str, Any]:
    site = await api.site(name="Oslo", timezone="Europe/Oslo")
    main = await api.circuit(site["id"], name="Main board")
    sub = await api.circuit(site["id"], name="Garage", parent_id=main["id"], max_current=25)
    a = await api.charger(site["id"], ocpp_id="CP-GARAGE", circuit_id=sub["id"])
    b = await api.charger(site["id"], ocpp_id="CP-FRONT")
    await _session(api, a["id"], OVER_MIDNIGHT, 4, 8000, "T1")
    await _session(api, a["id"], OVER_MIDNIGHT, 1, 999, "T1", status="Invalid")  # refused
    # No energy on the session: it comes from the register samples (1000 -> 3500 Wh).
    await _session(api, b["id"], NEXT_MORNING, 1, 0, "T2", register=(1000.0, 3500.0))
    return {"site": site, "main": main, "sub": sub, "a": a, "b": b}


def _by(data: list[dict[str, Any]], field: str) -> dict[tuple[str, Any], float]:
    return {(row["period_start"][:10], row[field]): row["energy_wh"] for row in data}


async def test_days_in_the_sites_time_zone(api: Api) -> None:
    f = await _site(api)
    body = await api.ok("GET", f"/sites/{f['site']['id']}/consumption", params=WINDOW)
    assert body["timezone"] == "Europe/Oslo" and body["group"] == "day"
    days = body["data"]
    assert [d["period_start"] for d in days] == [
        "2026-03-01T00:00:00+01:00",
        "2026-03-02T00:00:00+01:00",
    ]
    # The 4-hour session from 22:00 local is half in each day.
    assert [d["energy_wh"] for d in days] == [4000, 6500]
    assert [d["sessions"] for d in days] == [1, 2]
    assert days[0]["duration_s"] == 7200 and days[0]["average_power_w"] == 2000
    assert days[1]["energy_kwh"] == 6.5
    assert body["totals"] == {
        "energy_wh": 10500,
        "energy_kwh": 10.5,
        "sessions": 2,
        "duration_s": 5 * 3600,
    }


async def test_per_circuit_charger_and_tag_and_month(api: Api) -> None:
    f = await _site(api)
    path = f"/sites/{f['site']['id']}/consumption"
    circuits = (await api.ok("GET", path, params=WINDOW | {"by": "circuit"}))["data"]
    # The garage's charger counts for the garage and for the board above it.
    assert _by(circuits, "circuit_id") == {
        ("2026-03-01", f["sub"]["id"]): 4000,
        ("2026-03-01", f["main"]["id"]): 4000,
        ("2026-03-02", f["sub"]["id"]): 4000,
        ("2026-03-02", f["main"]["id"]): 4000,
        ("2026-03-02", None): 2500,
    }
    assert {r["circuit_name"] for r in circuits} == {"Main board", "Garage", None}
    chargers = (await api.ok("GET", path, params=WINDOW | {"by": "charger"}))["data"]
    assert {(r["ocpp_id"], r["energy_wh"]) for r in chargers} == {
        ("CP-GARAGE", 4000),
        ("CP-GARAGE", 4000),
        ("CP-FRONT", 2500),
    }
    tags = (await api.ok("GET", path, params=WINDOW | {"by": "id_tag"}))["data"]
    assert _by(tags, "id_tag") == {
        ("2026-03-01", "T1"): 4000,
        ("2026-03-02", "T1"): 4000,
        ("2026-03-02", "T2"): 2500,
    }
    months = await api.ok(
        "GET",
        path,
        params={"from": "2026-01-15T00:00:00Z", "to": "2026-04-01T00:00:00Z", "group": "month"},
    )
    assert [(m["period_start"], m["energy_wh"]) for m in months["data"]] == [
        ("2026-03-01T00:00:00+01:00", 10500)
    ]


async def test_bad_input_and_scope(api: Api) -> None:
    f = await _site(api)
    path = f"/sites/{f['site']['id']}/consumption"
    assert_problem(await api.call("GET", path, params={"group": "week"}), 422, "group")
    assert_problem(await api.call("GET", path, params={"by": "phase"}), 422, "by")
    backwards = {"from": WINDOW["to"], "to": WINDOW["from"]}
    assert_problem(await api.call("GET", path, params=backwards), 422, "to")
    too_long = {"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert_problem(await api.call("GET", path, params=too_long), 422, "from")
    other = await api.site()
    scoped = await api.call("GET", path, role="viewer", sites=[uuid.UUID(other["id"])])
    assert_problem(scoped, 404)
    assert_problem(await api.call("GET", f"/sites/{uuid.uuid4()}/consumption"), 404)
