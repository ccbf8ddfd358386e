"""Issue 13, part 2 ("Smaller ones"): what a fuzzer found the REST API doing wrong.

Each test names the finding it pins; all run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from chargegrid.services.rate_limit import RateLimiter
from chargegrid.store.models import ChargingSession
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import API, Api, assert_problem

NO_REFILL = 0.001


# -- 1. PATCH with a reference to nothing: 422 naming the field, like POST ---------------


async def test_patch_circuit_with_unknown_parent_is_422_naming_parent_id(api: Api) -> None:
    site = await api.site()
    circuit = await api.circuit(site["id"])
    body = {"parent_id": str(uuid.uuid4())}
    new = {"name": "Sub", "max_current": 16} | body
    assert_problem(await api.call("POST", f"/sites/{site['id']}/circuits", new), 422, "parent_id")
    response = await api.call("PATCH", f"/circuits/{circuit['id']}", body)
    assert_problem(response, 422, "parent_id")
    assert (await api.ok("GET", f"/circuits/{circuit['id']}"))["parent_id"] is None


async def test_patch_charger_with_unknown_circuit_or_site_is_422_naming_it(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    path = f"/chargers/{charger['id']}"
    for name in ("circuit_id", "site_id"):
        body = {name: str(uuid.uuid4())}
        assert_problem(await api.call("POST", "/chargers", {"ocpp_id": "CP-X"} | body), 422, name)
        assert_problem(await api.call("PATCH", path, body), 422, name)
    after = await api.ok("GET", path)
    assert after["site_id"] == site["id"] and after["circuit_id"] is None


async def test_patch_id_tag_with_unknown_site_is_422_and_taken_evse_number_is_a_clear_409(
    api: Api,
) -> None:
    tag = await api.ok("POST", "/id-tags", {"id_tag": "TAG-1"})
    response = await api.call("PATCH", f"/id-tags/{tag['id']}", {"site_id": str(uuid.uuid4())})
    assert_problem(response, 422, "site_id")
    site = await api.site()
    charger = await api.charger(site["id"], evses=[{"evse_number": 1}, {"evse_number": 2}])
    response = await api.call("PATCH", f"/evses/{charger['evses'][0]['id']}", {"evse_number": 2})
    assert_problem(response, 409)
    assert "EVSE 2 exists" in response.json()["detail"]


# -- 2. min_charge_current against max_charge_current ------------------------------------


async def test_max_charge_current_below_min_is_the_documented_pause_not_an_error(
    api: Api,
) -> None:
    """API.md and the Zaptec seed: max 0-32 A; "if charge current is below the charger
    minimum charge current, no charge current will be allocated" (the allocator's
    "max below min"). So min above max is a setting with a meaning, in either order."""
    site = await api.site()
    charger = await api.charger(site["id"], max_charge_current=0)
    assert charger["max_charge_current"] == 0 and charger["min_charge_current"] == 6
    path = f"/chargers/{charger['id']}"
    out = await api.ok("PATCH", path, {"min_charge_current": 10, "max_charge_current": 8})
    assert (out["min_charge_current"], out["max_charge_current"]) == (10, 8)
    out = await api.ok("PATCH", path, {"max_charge_current": None})
    assert out["max_charge_current"] is None  # null: no limit


# -- 3. ocpp_id is a URL path segment ------------------------------------------------------


@pytest.mark.parametrize("ocpp_id", ["..", ".", "a/b", "../x", "CP1\n", "%2e%2e"])
async def test_ocpp_ids_that_are_not_one_path_segment_are_422(api: Api, ocpp_id: str) -> None:
    site = await api.site()
    response = await api.call("POST", "/chargers", {"ocpp_id": ocpp_id, "site_id": site["id"]})
    assert_problem(response, 422, "ocpp_id")
    charger = await api.charger(site["id"])
    response = await api.call("PATCH", f"/chargers/{charger['id']}", {"ocpp_id": ocpp_id})
    assert_problem(response, 422, "ocpp_id")


async def test_ocpp_ids_with_dots_inside_are_fine(api: Api) -> None:
    site = await api.site()
    for ocpp_id in ("DK.12343*1", "...", ".hidden", "a..b"):
        assert (await api.charger(site["id"], ocpp_id=ocpp_id))["ocpp_id"] == ocpp_id


# -- 4. the OpenAPI says nullable exactly where the server takes null ---------------------


def _nullable(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(_nullable(p) for p in prop.get("anyOf", ()))


async def test_openapi_nullable_fields_are_the_ones_the_server_takes_as_null(api: Api) -> None:
    """Every PATCH body field: null accepted (it resets the field, API.md) iff the
    document marks it nullable; where it is not nullable, null is a 422 naming it."""
    site = await api.site()
    meter = await api.ok("POST", "/electricity-meters", {"name": "M", "site_id": site["id"]})
    circuit = await api.circuit(site["id"])
    charger = await api.charger(site["id"])
    evse = await api.evse(charger["id"])
    tag = await api.ok("POST", "/id-tags", {"id_tag": "TAG-1"})
    hook = {"url": "http://example.com/h", "events": ["session.*"], "secret": "s" * 16}
    webhook = await api.ok("POST", "/webhooks", hook)
    async with UnitOfWork(api.db) as uow:  # sessions come from OCPP, not the API
        session = ChargingSession(
            charger_id=uuid.UUID(charger["id"]),
            evse_number=1,
            connector_id=1,
            transaction_id=await uow.sessions.allocate_transaction_id(),
            id_tag="TAG-1",
            meter_start=0,
            started_at=datetime.now(UTC),
            energy_wh=0,
            authorization_status="Accepted",
        )
        uow.sessions.add(session)
        await uow.sessions.flush()
        await uow.commit()
    ids = {
        "session_id": str(session.id),
        "site_id": site["id"],
        "circuit_id": circuit["id"],
        "charger_id": charger["id"],
        "evse_id": evse["id"],
        "connector_id": "1",
        "tag_id": tag["id"],
        "meter_id": meter["id"],
        "webhook_id": webhook["id"],
    }
    document = (await api.client.get(f"{API}/openapi.json")).json()
    schemas = document["components"]["schemas"]
    checked: list[tuple[str, str, bool]] = []
    for template, item in document["paths"].items():
        operation = item.get("patch")
        if operation is None or "requestBody" not in operation:
            continue
        path = template.removeprefix(API)
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, template
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for field, prop in schemas[ref.rsplit("/", 1)[1]]["properties"].items():
            response = await api.call("PATCH", path, {field: None})
            nullable = _nullable(prop)
            checked.append((template, field, nullable))
            if nullable:
                assert response.status_code == 200, (template, field, response.text)
            else:
                assert_problem(response, 422, field)
    assert ("/api/v1/sites/{site_id}", "max_current", False) in checked
    assert ("/api/v1/id-tags/{tag_id}", "id_tag", False) in checked
    assert ("/api/v1/chargers/{charger_id}", "max_charge_current", True) in checked


# -- 5. 405 names every method the path has ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template", "allowed"),
    [
        ("PUT", "/circuits/{id}", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/sites", {"GET", "POST"}),
        ("POST", "/sites/{id}", {"GET", "PATCH", "DELETE"}),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    api: Api, method: str, template: str, allowed: set[str]
) -> None:
    response = await api.call(method, template.replace("{id}", str(uuid.uuid4())), {})
    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


# -- 6. failed authentication does not spend a valid token's budget ------------------------


async def test_a_flood_without_a_valid_token_does_not_429_a_valid_token(api: Api) -> None:
    api.app.state.rate_limiter = RateLimiter(NO_REFILL, 3)
    valid = {"Authorization": f"Bearer {await api.token()}"}
    # Not yet seen (so not cached): its first request goes through the lookup.
    other = {"Authorization": f"Bearer {await api.token('viewer')}"}
    codes = []
    for headers in ({}, {"Authorization": "Bearer cg_guessed"}) * 3:
        codes.append((await api.client.get(f"{API}/sites", headers=headers)).status_code)
    assert codes == [401, 401, 401, 429, 429, 429]
    flooded = await api.client.get(f"{API}/sites", headers={"Authorization": "Bearer x"})
    assert_problem(flooded, 429)
    assert int(flooded.headers["retry-after"]) >= 1
    for headers in (valid, other, valid):
        assert (await api.client.get(f"{API}/sites", headers=headers)).status_code == 200


# -- 7. timestamps at the edges --------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        0,
        1_700_000_000,
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:01+00:00",
    ],
)
async def test_meter_reading_timestamps_outside_the_window_are_422(
    api: Api, timestamp: Any
) -> None:
    site = await api.site()
    meter = await api.ok("POST", "/electricity-meters", {"name": "M", "site_id": site["id"]})
    body = {"timestamp": timestamp, "current_l1": 1.0}
    response = await api.call("POST", f"/electricity-meters/{meter['id']}/readings", body)
    assert_problem(response, 422, "timestamp")


async def test_meter_reading_timestamps_inside_the_window_are_stored(api: Api) -> None:
    site = await api.site()
    meter = await api.ok("POST", "/electricity-meters", {"name": "M", "site_id": site["id"]})
    for timestamp in ("2000-01-01T00:00:00Z", "2099-12-31T23:00:00-01:00"):
        body = {"timestamp": timestamp, "current_l1": 1.0}
        await api.ok("POST", f"/electricity-meters/{meter['id']}/readings", body)


@pytest.mark.parametrize("expires_at", ["0001-01-01T00:00:00+14:00", 0, "9999-12-31T23:59:59Z"])
async def test_id_tag_expiry_outside_the_window_is_422(api: Api, expires_at: Any) -> None:
    response = await api.call("POST", "/id-tags", {"id_tag": "T-1", "expires_at": expires_at})
    assert_problem(response, 422, "expires_at")


# -- 6. a query's time outside the window is a 422, never an overflow ----------------------


async def test_query_times_far_out_are_a_422_naming_them(api: Api) -> None:
    """0001-01-01T00:00:00+00:01 is a valid ISO 8601 time whose UTC is before year 1:
    converting it for the database overflowed (a 500, found by schemathesis)."""
    site = await api.site()
    far = {"to": "0001-01-01T00:00:00+00:01"}
    late = {"from": "9999-12-31T23:59:59-00:01"}
    for path, params in [
        ("/events", far),
        ("/sessions", far),
        ("/sessions", late),
        (f"/sites/{site['id']}/load/history", far),
        (f"/sites/{site['id']}/consumption", late),
    ]:
        response = await api.call("GET", path, params=params)
        assert_problem(response, 422, next(iter(params)))
