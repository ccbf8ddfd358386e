"""Plugchoice's connector update (seed 003, developer.plugchoice.com) replayed against
``/compat/plugchoice``: the answer's shape, its error shape, and the effect through our
own API and the load manager."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from chargegrid.compat.ids import AliasKind, alias
from chargegrid.events import CONFIG_CHANGED
from chargegrid.services.rate_limit import RateLimiter
from chargegrid.store.uow import UnitOfWork
from tests.integration.compat.live_load import (
    charging,
    profile_sent,
    running_loop,
    session_view,
)
from tests.integration.conftest import Api, assert_problem

BASE = "/compat/plugchoice/api/v3"
# The connector object of the seed's response, field by field, with its JSON types.
CONNECTOR_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": int,
    "charger_id": int,
    "connector_id": int,
    "status": str,
    "error": (str, type(None)),
    "error_info": (str, type(None)),
    "vendor_id": (str, type(None)),
    "vendor_error_code": (str, type(None)),
    "max_amperage": int,
    "max_voltage": int,
    "standard": str,
    "format": str,
    "power_type": str,
    "phase_rotation": str,
    "created_at": str,
    "updated_at": str,
}
THREE_PHASE = ["RST", "RTS", "SRT", "STR", "TRS", "TSR"]
TWO_PHASE = ["RS", "RT", "SR", "ST", "TR", "TS"]
ONE_PHASE = ["R", "S", "T"]


async def plugchoice(
    api: Api, method: str, path: str, body: Any = None, *, role: str = "admin", **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await api.token(role, kw.get('sites'))}"}
    return await api.client.request(method, BASE + path, json=body, headers=headers)


def assert_plugchoice_error(
    response: httpx.Response, status: int, field: str | None = None
) -> None:
    """Plugchoice's documented error: ``{"message"}``, for 422 with ``errors`` per field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    if status == 422:
        assert body["message"] == "The given data was invalid."
        assert field in body["errors"], body
        assert all(isinstance(m, str) for m in body["errors"][field])
    else:
        assert set(body) == {"message"}, body


async def _charger(api: Api, power_type: str = "AC_3_PHASE") -> dict[str, Any]:
    site = await api.site(max_current=63)
    charger = await api.charger(site["id"])
    evse = await api.evse(charger["id"], connectors=[{"connector_id": 1, "power_type": power_type}])
    return {"site": site, "charger": charger, "evse": evse}


def _path(charger: dict[str, Any] | str, connector_id: int = 1) -> str:
    ref = charger if isinstance(charger, str) else charger["id"]
    return f"/chargers/{ref}/connectors/{connector_id}"


async def _our_connector(api: Api, evse_id: str) -> dict[str, Any]:
    listed = await api.ok("GET", f"/evses/{evse_id}/connectors")
    connector: dict[str, Any] = listed["data"][0]
    return connector


async def test_update_answers_the_seeds_connector_object_and_our_api_shows_it(api: Api) -> None:
    tree = await _charger(api)
    with api.bus.subscribe(CONFIG_CHANGED, maxsize=10) as events:
        response = await plugchoice(
            api, "PUT", _path(tree["charger"]), {"phase_rotation": "STR", "max_amperage": 16}
        )
        assert response.status_code == 200, response.text
        event = await events.get()
    body = response.json()
    assert set(body) == set(CONNECTOR_FIELDS)
    for name, kind in CONNECTOR_FIELDS.items():
        assert isinstance(body[name], kind), (name, body[name])
    connector = tree["evse"]["connectors"][0]
    async with UnitOfWork(api.db) as uow:
        assert body["id"] == await alias(uow, AliasKind.CONNECTOR, uuid.UUID(connector["id"]))
        charger_id = uuid.UUID(tree["charger"]["id"])
        assert body["charger_id"] == await alias(uow, AliasKind.CHARGER, charger_id)
    assert body["connector_id"] == 1 and body["max_amperage"] == 16
    assert body["phase_rotation"] == "STR" and body["power_type"] == "AC_3_PHASE"
    assert body["status"] == "Unknown" and body["error"] is None  # offline, never reported
    assert body["max_voltage"] == 230 and body["standard"] == "IEC_62196_T2"
    # The same change our own API makes: its view, its wiring source, its event.
    ours = await _our_connector(api, tree["evse"]["id"])
    assert (ours["max_amperage"], ours["phase_rotation"]) == (16, "STR")
    assert ours["wiring_source"] == "operator"
    assert event.payload["kind"] == "connector" and event.payload["id"] == connector["id"]
    assert event.payload["fields"] == ["max_amperage", "phase_rotation"]
    # GET answers the same object.
    again = await plugchoice(api, "GET", _path(tree["charger"]), role="viewer")
    assert again.status_code == 200 and again.json() == body
    # The charger's integer alias finds it as well as its UUID.
    body = {"phase_rotation": "RTS", "max_amperage": 20}
    by_alias = await plugchoice(api, "PUT", _path(str(again.json()["charger_id"])), body)
    assert by_alias.status_code == 200, by_alias.text
    ours = await _our_connector(api, tree["evse"]["id"])
    assert (ours["max_amperage"], ours["phase_rotation"]) == (20, "RTS")


# Rules that do not depend on the database: once, on SQLite.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
async def test_every_rule_of_the_seed_is_ours(api: Api) -> None:
    tree = await _charger(api)
    path = _path(tree["charger"])
    # The seed's curl body verbatim: "<string>" is no rotation; 123 A is within 1-1000.
    seed = {"phase_rotation": "<string>", "max_amperage": 123}
    response = await plugchoice(api, "PUT", path, seed)
    assert_plugchoice_error(response, 422, "phase_rotation")
    assert "max_amperage" not in response.json()["errors"]
    assert (await _our_connector(api, tree["evse"]["id"]))["max_amperage"] == 32  # unchanged
    # Both fields are required.
    for missing in ("phase_rotation", "max_amperage"):
        body = {"phase_rotation": "RST", "max_amperage": 16}
        del body[missing]
        assert_plugchoice_error(await plugchoice(api, "PUT", path, body), 422, missing)
    # max_amperage: "between 1 and 1000", inclusive; a number.
    for amperage, ok in ((1, True), (1000, True), (0, False), (1001, False), ("many", False)):
        body = {"phase_rotation": "RST", "max_amperage": amperage}
        response = await plugchoice(api, "PUT", path, body)
        if ok:
            assert response.status_code == 200 and response.json()["max_amperage"] == amperage
        else:
            assert_plugchoice_error(response, 422, "max_amperage")
    # Every documented rotation, taken where the connector's phase count fits it.
    for power_type, fitting in (
        ("AC_3_PHASE", THREE_PHASE),
        ("AC_2_PHASE", TWO_PHASE),
        ("AC_1_PHASE", ONE_PHASE),
    ):
        await api.ok(
            "PUT",
            f"/chargers/{tree['charger']['id']}/connectors/1",
            {"power_type": power_type, "phase_rotation": fitting[0]},
        )
        for rotation in THREE_PHASE + TWO_PHASE + ONE_PHASE:
            body = {"phase_rotation": rotation, "max_amperage": 16}
            response = await plugchoice(api, "PUT", path, body)
            if rotation in fitting:
                assert response.status_code == 200, (power_type, rotation, response.text)
                assert response.json()["phase_rotation"] == rotation
                assert response.json()["power_type"] == power_type
            else:
                assert_plugchoice_error(response, 422, "phase_rotation")


@sqlite_only
async def test_roles_tokens_and_unknown_ids_answer_plugchoices_errors(api: Api) -> None:
    tree = await _charger(api)
    body = {"phase_rotation": "RST", "max_amperage": 16}
    path = BASE + _path(tree["charger"])
    no_token = await api.client.put(path, json=body)
    assert_plugchoice_error(no_token, 401)
    assert no_token.json()["message"] == "Unauthenticated."
    bare = await api.client.put(path, json=body, headers={"Authorization": await api.token()})
    assert_plugchoice_error(bare, 401)  # Plugchoice takes Bearer only
    for role in ("owner", "viewer"):  # wiring and ratings: service and admin
        assert_plugchoice_error(
            await plugchoice(api, "PUT", _path(tree["charger"]), body, role=role), 403
        )
    service = await plugchoice(api, "PUT", _path(tree["charger"]), body, role="service")
    assert service.status_code == 200
    other = await api.site(name="other")
    outside = await plugchoice(
        api, "GET", _path(tree["charger"]), role="admin", sites=[uuid.UUID(other["id"])]
    )
    assert_plugchoice_error(outside, 404)
    for ref in (str(uuid.uuid4()), "999999999", "not-an-id"):
        assert_plugchoice_error(await plugchoice(api, "PUT", _path(ref), body), 404)
    assert_plugchoice_error(await plugchoice(api, "PUT", _path(tree["charger"], 7), body), 404)
    assert_plugchoice_error(await plugchoice(api, "DELETE", _path(tree["charger"])), 405)
    assert_plugchoice_error(await plugchoice(api, "GET", "/nothing/here"), 404)
    # The rate limit of /api/v1 (one per token), answered in Plugchoice's shape.
    api.app.state.rate_limiter = RateLimiter(0.001, 1, clock=lambda: 0.0)
    assert (await plugchoice(api, "GET", _path(tree["charger"]))).status_code == 200
    limited = await plugchoice(api, "GET", _path(tree["charger"]))
    assert_plugchoice_error(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1


@sqlite_only
async def test_our_own_api_keeps_problem_json_and_its_document(api: Api) -> None:
    tree = await _charger(api)
    bad = {"phase_rotation": "<string>", "max_amperage": 16}
    ours = await api.call("PUT", f"/chargers/{tree['charger']['id']}/connectors/1", bad)
    assert_problem(ours, 422, "phase_rotation")
    document = (await api.client.get("/api/v1/openapi.json")).json()
    assert not [p for p in document["paths"] if "compat" in p or "/v3/" in p]
    theirs = (await api.client.get("/compat/plugchoice/openapi.json")).json()
    operations = theirs["paths"]["/api/v3/chargers/{charger}/connectors/{connector_id}"]
    assert set(operations) == {"get", "put"}
    assert all(op["tags"] == ["Plugchoice"] for op in operations.values())
    put = operations["put"]
    assert {"200", "401", "403", "404", "422"} <= set(put["responses"])
    schema = theirs["components"]["schemas"]["ConnectorSetup"]
    assert set(schema["required"]) == {"phase_rotation", "max_amperage"}


async def test_the_load_manager_uses_the_new_amperage_and_rotation(api: Api) -> None:
    tree = await _charger(api, "AC_1_PHASE")
    session_id = await charging(api, tree["charger"], tree["evse"])
    site_id, ocpp_id = tree["site"]["id"], tree["charger"]["ocpp_id"]
    async with running_loop(api) as chargers:
        await profile_sent(chargers, ocpp_id, lambda limit: limit == 32)
        before = await session_view(api, site_id, session_id, lambda s: s["limit"] == 32)
        assert before["grid_phases"] == ["l1"]
        body = {"phase_rotation": "T", "max_amperage": 10}
        response = await plugchoice(api, "PUT", _path(tree["charger"]), body)
        assert response.status_code == 200, response.text
        # The car is told at once; the session now loads the grid's L3, not L1.
        await profile_sent(chargers, ocpp_id, lambda limit: limit == 10)
        await session_view(api, site_id, session_id, lambda s: s["grid_phases"] == ["l3"])
