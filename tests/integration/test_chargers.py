"""Chargers (seed 001, Zaptec charger update) through the REST API, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update

from chargegrid.services.auth import verify_password
from chargegrid.store.models import Charger
from tests.integration.conftest import Api, assert_problem


@pytest.fixture
async def charger(api: Api) -> dict[str, Any]:
    site = await api.site()
    return await api.charger(site["id"])


async def test_defaults(charger: dict[str, Any]) -> None:
    assert charger["max_charge_current"] is None
    assert charger["min_charge_current"] == 6
    assert charger["max_charge_phases"] == 3
    assert charger["offline_charge_current"] == -1
    assert charger["offline_charge_phase"] == 0
    assert charger["priority"] == 1
    assert charger["config_sync"] == "pending"
    assert charger["status"] == "UNKNOWN" and charger["online"] is False


VALID = [
    ("max_charge_current", 0),
    ("max_charge_current", 32),
    ("max_charge_current", 15.5),
    ("min_charge_current", 10),
    ("max_charge_phases", 1),
    ("max_charge_phases", 3),
    ("offline_charge_current", -1),
    ("offline_charge_current", 0),
    ("offline_charge_current", 32),
    *[("offline_charge_phase", p) for p in (0, 1, 2, 4, 7)],
    ("meter_value_interval", 0),
    ("meter_value_interval", 60),
    ("priority", 0),
    ("priority", 2.5),
]


@pytest.mark.parametrize(("field", "value"), VALID)
async def test_valid_settings_are_stored(
    api: Api, charger: dict[str, Any], field: str, value: float
) -> None:
    out = await api.ok("PATCH", f"/chargers/{charger['id']}", {field: value})
    assert out[field] == value
    assert (await api.ok("GET", f"/chargers/{charger['id']}"))[field] == value


INVALID = [
    ("max_charge_current", 33),
    ("max_charge_current", -1),
    ("max_charge_current", "16"),
    ("min_charge_current", 40),
    ("max_charge_phases", 2),
    ("max_charge_phases", 0),
    ("max_charge_phases", True),
    ("max_charge_phases", "3"),
    ("offline_charge_current", -2),
    ("offline_charge_current", -0.5),
    ("offline_charge_current", 32.5),
    *[("offline_charge_phase", p) for p in (3, 5, 6, 8, -1)],
    ("meter_value_interval", -1),
    ("meter_value_interval", 1.5),
    ("meter_value_interval", "900"),
    ("priority", -1),
    ("priority", False),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
async def test_out_of_range_or_wrong_type_is_422_naming_the_field(
    api: Api, charger: dict[str, Any], field: str, value: object
) -> None:
    response = await api.call("PATCH", f"/chargers/{charger['id']}", {field: value})
    assert_problem(response, 422, field)
    assert (await api.ok("GET", f"/chargers/{charger['id']}"))[field] == charger[field]


async def test_null_resets_to_the_default(api: Api, charger: dict[str, Any]) -> None:
    path = f"/chargers/{charger['id']}"
    await api.ok("PATCH", path, {"min_charge_current": 10, "offline_charge_current": 16})
    out = await api.ok("PATCH", path, {"min_charge_current": None, "offline_charge_current": None})
    assert out["min_charge_current"] == 6 and out["offline_charge_current"] == -1


async def test_absent_fields_are_unchanged(api: Api, charger: dict[str, Any]) -> None:
    path = f"/chargers/{charger['id']}"
    await api.ok("PATCH", path, {"max_charge_current": 20})
    out = await api.ok("PATCH", path, {"priority": 2})
    assert out["max_charge_current"] == 20 and out["priority"] == 2


async def test_config_sync_goes_back_to_pending_on_a_pushed_change(
    api: Api, charger: dict[str, Any]
) -> None:
    async with api.db.session() as session:  # as if the charger had confirmed
        await session.execute(update(Charger).values(config_sync="applied"))
    assert (await api.ok("GET", f"/chargers/{charger['id']}"))["config_sync"] == "applied"
    out = await api.ok("PATCH", f"/chargers/{charger['id']}", {"meter_value_interval": 30})
    assert out["config_sync"] == "pending"


async def test_owner_may_change_settings_but_not_identity(
    api: Api, charger: dict[str, Any]
) -> None:
    path = f"/chargers/{charger['id']}"
    out = await api.ok("PATCH", path, {"max_charge_current": 16}, role="owner")
    assert out["max_charge_current"] == 16
    assert_problem(await api.call("PATCH", path, {"ocpp_id": "NEW"}, role="owner"), 403)
    assert_problem(await api.call("PATCH", path, {"priority": 3}, role="viewer"), 403)


async def test_ocpp_id_is_unique_and_url_safe(api: Api, charger: dict[str, Any]) -> None:
    body = {"ocpp_id": charger["ocpp_id"], "site_id": charger["site_id"]}
    assert_problem(await api.call("POST", "/chargers", body), 409)
    body = {"ocpp_id": "bad/id", "site_id": charger["site_id"]}
    assert_problem(await api.call("POST", "/chargers", body), 422, "ocpp_id")


async def test_password_is_write_only_and_hashed(api: Api, charger: dict[str, Any]) -> None:
    out = await api.ok("PATCH", f"/chargers/{charger['id']}", {"password": "s3cret-pass"})
    assert out["has_password"] is True
    assert "password" not in out and "password_hash" not in out
    async with api.db.session() as session:
        stored = await session.get(Charger, uuid.UUID(charger["id"]))
        assert stored is not None and stored.password_hash is not None
        assert "s3cret-pass" not in stored.password_hash
        assert verify_password("s3cret-pass", stored.password_hash)
        assert not verify_password("wrong", stored.password_hash)


async def test_circuit_must_be_on_the_chargers_site(api: Api, charger: dict[str, Any]) -> None:
    other_site = await api.site(name="Other")
    foreign = await api.circuit(other_site["id"])
    response = await api.call("PATCH", f"/chargers/{charger['id']}", {"circuit_id": foreign["id"]})
    assert_problem(response, 422, "circuit_id")
    own = await api.circuit(charger["site_id"])
    out = await api.ok("PATCH", f"/chargers/{charger['id']}", {"circuit_id": own["id"]})
    assert out["circuit_id"] == own["id"]


async def test_list_filters_by_site_and_pages(api: Api) -> None:
    site_a, site_b = await api.site(name="A"), await api.site(name="B")
    made = {(await api.charger(site_a["id"]))["id"] for _ in range(5)}
    await api.charger(site_b["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"site_id": site_a["id"], "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", "/chargers", params=params)
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


async def test_changes_publish_config_changed(api: Api, charger: dict[str, Any]) -> None:
    with api.bus.subscribe("config.changed") as events:
        await api.ok("PATCH", f"/chargers/{charger['id']}", {"max_charge_current": 10})
        event = events.get_nowait()
    assert event is not None
    assert event.payload == {
        "kind": "charger",
        "id": charger["id"],
        "site_id": charger["site_id"],
        "action": "updated",
        "fields": ["max_charge_current"],
    }


async def test_delete_charger(api: Api, charger: dict[str, Any]) -> None:
    await api.evse(charger["id"])
    assert (await api.call("DELETE", f"/chargers/{charger['id']}")).status_code == 204
    assert_problem(await api.call("GET", f"/chargers/{charger['id']}"), 404)


async def test_an_unplaced_charger_is_for_unscoped_tokens_only(api: Api) -> None:
    out = await api.ok("POST", "/chargers", {"ocpp_id": "UNPLACED-1"})
    assert out["site_id"] is None
    site = await api.site()
    scope = [uuid.UUID(site["id"])]
    response = await api.call("POST", "/chargers", {"ocpp_id": "X-2"}, role="service", sites=scope)
    assert_problem(response, 422, "site_id")
    assert_problem(await api.call("GET", f"/chargers/{out['id']}", sites=scope), 404)
    placed = await api.ok("PATCH", f"/chargers/{out['id']}", {"site_id": site["id"]})
    assert placed["site_id"] == site["id"]


async def test_create_with_evses_or_connectors_in_one_request(api: Api) -> None:
    site = await api.site()
    out = await api.ok(
        "POST",
        "/chargers",
        {
            "ocpp_id": "NESTED-1",
            "site_id": site["id"],
            "evses": [
                {
                    "evse_number": 1,
                    "connectors": [
                        {"connector_id": 1, "power_type": "AC_1_PHASE", "phase_rotation": "S"}
                    ],
                },
                {"evse_number": 2, "connectors": [{"connector_id": 2}]},
            ],
        },
    )
    assert [e["evse_number"] for e in out["evses"]] == [1, 2]
    assert out["evses"][0]["connectors"][0]["phase_rotation"] == "S"
    out = await api.ok(
        "POST",
        "/chargers",
        {
            "ocpp_id": "NESTED-2",
            "site_id": site["id"],
            "connectors": [{"connector_id": 1}, {"connector_id": 2}],
        },
    )
    assert [(e["evse_number"], e["connectors"][0]["connector_id"]) for e in out["evses"]] == [
        (1, 1),
        (2, 2),
    ]


async def test_a_bad_nested_connector_creates_nothing(api: Api) -> None:
    site = await api.site()
    body = {
        "ocpp_id": "NESTED-BAD",
        "site_id": site["id"],
        "evses": [
            {
                "evse_number": 1,
                "connectors": [
                    {"connector_id": 1, "power_type": "AC_1_PHASE", "phase_rotation": "RST"}
                ],
            }
        ],
    }
    response = await api.call("POST", "/chargers", body)
    assert_problem(response, 422, "evses[0].connectors[0].phase_rotation")
    listed = await api.ok("GET", "/chargers", params={"site_id": site["id"]})
    assert listed["data"] == []
