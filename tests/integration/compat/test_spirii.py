"""Spirii's connector update (seed 004, developer.spirii.com) replayed against
``/compat/spirii``: the whole EVSE in the answer, the error envelope, the key with or
without ``Bearer``, and the effect through our own API and the load manager."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from chargegrid.compat.ids import AliasKind, alias
from chargegrid.domain.units import dc_input_current
from chargegrid.events import CONFIG_CHANGED
from chargegrid.services.rate_limit import RateLimiter
from chargegrid.store.models import Charger, Connector, Evse
from chargegrid.store.uow import UnitOfWork
from tests.integration.compat.live_load import charging, profile_sent, running_loop
from tests.integration.conftest import Api

BASE = "/compat/spirii/v2"
# The seed's request example, verbatim.
SEED_PATCH = {
    "standard": "CHADEMO",
    "format": "SOCKET",
    "maxElectricPower": 22,
    "maxAmperage": 32,
    "maxVoltage": 400,
}
EVSE_FIELDS = {"uid", "evseId", "chargeboxId", "status", "connectors"}
CONNECTOR_FIELDS = {
    "id",
    "standard",
    "format",
    "powerType",
    "maxElectricPower",
    "maxAmperage",
    "maxVoltage",
    "tariffIds",
    "error",
    "deletedAt",
}
OCPI_STATUSES = {
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
}
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def spirii(
    api: Api,
    method: str,
    path: str,
    body: Any = None,
    *,
    role: str = "admin",
    bearer: bool = False,
    sites: list[uuid.UUID] | None = None,
) -> httpx.Response:
    """As the vendor's own sample sends it: the bare key (``bearer``: as its docs say)."""
    key = await api.token(role, sites)
    headers = {"Authorization": f"Bearer {key}" if bearer else key}
    return await api.client.request(method, BASE + path, json=body, headers=headers)


def assert_spirii_error(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json().values()
    assert set(error) == {"type", "code", "message", "param", "request_id"}, error
    assert error["message"] and error["request_id"].startswith("req_")
    assert error["param"] == param, error


async def _evse(api: Api, power_type: str = "AC_3_PHASE", **evse: Any) -> dict[str, Any]:
    site = await api.site(max_current=63)
    charger = await api.charger(site["id"], ocpp_id=f"DK-{uuid.uuid4().hex[:6]}")
    body = {"connectors": [{"connector_id": 1, "power_type": power_type}]} | evse
    made = await api.evse(charger["id"], **body)
    async with UnitOfWork(api.db) as uow:
        uid = await alias(uow, AliasKind.EVSE, uuid.UUID(made["id"]))
        box = await alias(uow, AliasKind.CHARGER, uuid.UUID(charger["id"]))
    return {"site": site, "charger": charger, "evse": made, "uid": uid, "box": box}


def _assert_evse_shape(body: dict[str, Any]) -> None:
    assert set(body) == EVSE_FIELDS
    assert isinstance(body["uid"], int) and isinstance(body["chargeboxId"], int)
    assert isinstance(body["evseId"], str) and body["status"] in OCPI_STATUSES
    for connector in body["connectors"]:
        assert set(connector) == CONNECTOR_FIELDS
        assert connector["tariffIds"] == [] and connector["deletedAt"] is None


async def test_the_seeds_patch_answers_the_whole_evse_and_our_api_shows_it(api: Api) -> None:
    tree = await _evse(api, "DC", evse_id="DK.12343*1")
    with api.bus.subscribe(CONFIG_CHANGED, maxsize=10) as events:
        response = await spirii(api, "PATCH", f"/evses/{tree['uid']}/connectors/1", SEED_PATCH)
        assert response.status_code == 200, response.text
        event = await events.get()
    body = response.json()
    _assert_evse_shape(body)
    assert (body["uid"], body["chargeboxId"]) == (tree["uid"], tree["box"])
    assert body["evseId"] == "DK.12343*1"  # Spirii's non-eMI3 form, kept as given
    assert body["status"] == "UNKNOWN"  # the charger is offline
    (connector,) = body["connectors"]
    assert connector["id"] == 1 and connector["powerType"] == "DC" and connector["error"] is None
    for name in ("standard", "format", "maxElectricPower", "maxAmperage", "maxVoltage"):
        assert connector[name] == SEED_PATCH[name], name
    assert '"maxAmperage":32,' in response.text and '"maxVoltage":400,' in response.text
    # Our own API: the same connector, power in W.
    ours = (await api.ok("GET", f"/evses/{tree['evse']['id']}"))["connectors"][0]
    assert (ours["standard"], ours["format"]) == ("CHADEMO", "SOCKET")
    assert (ours["max_electric_power"], ours["max_amperage"], ours["max_voltage"]) == (
        22_000,
        32,
        400,
    )
    assert event.payload["kind"] == "connector" and event.payload["id"] == ours["id"]
    # Audited as our own change is: by whom, each field from what to what.
    params = {"site_id": tree["site"]["id"], "type": "config.changed"}
    log = (await api.ok("GET", "/events", params=params))["data"]
    (entry,) = [e for e in log if e["subject"] == "connector" and e["data"]["action"] == "updated"]
    assert entry["subject_id"] == ours["id"] and entry["actor_role"] == "admin"
    assert entry["data"]["changes"]["max_electric_power"] == {"old": None, "new": 22_000}
    assert entry["data"]["changes"]["max_voltage"] == {"old": 230, "new": 400}
    # GET answers the same EVSE, by alias or UUID, with Bearer too.
    for ref in (tree["uid"], tree["evse"]["id"]):
        again = await spirii(api, "GET", f"/evses/{ref}", role="viewer", bearer=True)
        assert again.status_code == 200 and again.json() == body


async def test_status_is_ocpi_and_errors_are_the_chargers(api: Api) -> None:
    tree = await _evse(api)
    # What a charger's StatusNotification leaves behind.
    async with UnitOfWork(api.db) as uow:
        session = uow.session
        await session.execute(
            update(Charger)
            .where(Charger.id == uuid.UUID(tree["charger"]["id"]))
            .values(online=True)
        )
        await session.execute(
            update(Evse)
            .where(Evse.id == uuid.UUID(tree["evse"]["id"]))
            .values(ocpp_status="SuspendedEV")
        )
        await session.execute(
            update(Connector)
            .where(Connector.id == uuid.UUID(tree["evse"]["connectors"][0]["id"]))
            .values(
                error_code="UnderVoltage",
                error_info="NO_VOLTAGE_L2_L3",
                vendor_error_code="134217728",
            )
        )
        await uow.commit()
    body = (await spirii(api, "GET", f"/evses/{tree['uid']}")).json()
    assert body["status"] == "BLOCKED"  # the seed's table: SuspendedEV -> BLOCKED
    assert body["evseId"] == f"{tree['charger']['ocpp_id']}*1"  # none set: the OCPP name
    assert body["connectors"][0]["error"] == {
        "errorCode": "UnderVoltage",
        "info": "NO_VOLTAGE_L2_L3",
        "vendorErrorCode": "134217728",
    }


@sqlite_only
async def test_every_field_is_checked_by_our_rules_and_named_as_spiriis(api: Api) -> None:
    tree = await _evse(api)
    path = f"/evses/{tree['uid']}/connectors/1"
    # Each documented enum value and unit is taken...
    for standard in (
        "CHADEMO",
        "IEC_62196_T2_COMBO",
        "IEC_62196_T2",
        "GBT_AC",
        "GBT_DC",
        "IEC_62196_T1_COMBO",
        "IEC_62196_T1",
    ):
        response = await spirii(api, "PATCH", path, {"standard": standard})
        assert response.json()["connectors"][0]["standard"] == standard
    for fmt in ("SOCKET", "CABLE"):
        response = await spirii(api, "PATCH", path, {"format": fmt})
        assert response.json()["connectors"][0]["format"] == fmt
    response = await spirii(api, "PATCH", path, {"maxElectricPower": 7.4, "maxAmperage": 32.0})
    assert response.status_code == 200, response.text
    connector = response.json()["connectors"][0]
    assert connector["maxElectricPower"] == pytest.approx(7.4) and connector["maxAmperage"] == 32
    # ... a field left out is unchanged ...
    assert connector["standard"] == "IEC_62196_T1" and connector["format"] == "CABLE"
    # ... and a bad one is 422, named as Spirii names it, nothing changed.
    for bad, param in (
        ({"standard": "SCHUKO"}, "standard"),
        ({"format": "PLUG"}, "format"),
        ({"maxAmperage": 0}, "maxAmperage"),
        ({"maxAmperage": 1001}, "maxAmperage"),
        ({"maxAmperage": 16.5}, "maxAmperage"),
        ({"maxVoltage": 0}, "maxVoltage"),
        ({"maxElectricPower": -1}, "maxElectricPower"),
        ({"maxElectricPower": "lots"}, "maxElectricPower"),
        ({"tariffIds": []}, "tariffIds"),
    ):
        assert_spirii_error(await spirii(api, "PATCH", path, bad), 422, param)
    after = (await spirii(api, "GET", f"/evses/{tree['uid']}")).json()["connectors"][0]
    assert after == connector


@sqlite_only
async def test_keys_roles_and_unknown_ids_answer_spiriis_envelope(api: Api) -> None:
    tree = await _evse(api)
    path = f"/evses/{tree['uid']}/connectors/1"
    body = {"maxAmperage": 16}
    assert_spirii_error(await api.client.patch(BASE + path, json=body), 401)
    wrong = {"Authorization": "cg_not-a-key"}
    assert_spirii_error(await api.client.patch(BASE + path, json=body, headers=wrong), 401)
    for bearer in (False, True):  # the key bare (the vendor's sample) or as Bearer
        response = await spirii(api, "PATCH", path, body, bearer=bearer, role="service")
        assert response.status_code == 200, response.text
    for role in ("owner", "viewer"):
        assert_spirii_error(await spirii(api, "PATCH", path, body, role=role), 403)
    other = await api.site(name="other")
    scoped = [uuid.UUID(other["id"])]
    assert_spirii_error(await spirii(api, "GET", f"/evses/{tree['uid']}", sites=scoped), 404)
    # A charger's alias is no EVSE's uid; unknown numbers, UUIDs and connectors are 404.
    for ref in (tree["box"], 999_999_999, uuid.uuid4(), "DK.12343*1"):
        assert_spirii_error(await spirii(api, "GET", f"/evses/{ref}"), 404)
    assert_spirii_error(await spirii(api, "PATCH", f"/evses/{tree['uid']}/connectors/2", body), 404)
    assert_spirii_error(await spirii(api, "GET", "/nothing"), 404)
    assert_spirii_error(await spirii(api, "GET", "/evses/a%0Ab"), 404)  # a newline: still Spirii's
    assert_spirii_error(await spirii(api, "DELETE", f"/evses/{tree['uid']}"), 405)
    # The rate limit of /api/v1 (one per token), answered in Spirii's envelope.
    api.app.state.rate_limiter = RateLimiter(0.001, 2, clock=lambda: 0.0)
    for _ in range(2):
        assert (await spirii(api, "GET", f"/evses/{tree['uid']}")).status_code == 200
    limited = await spirii(api, "GET", f"/evses/{tree['uid']}")
    assert_spirii_error(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    document = (await api.client.get("/compat/spirii/openapi.json")).json()
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == 2 and all(op["tags"] == ["Spirii"] for op in operations)


async def test_the_load_manager_uses_the_new_ratings(api: Api) -> None:
    tree = await _evse(api, "DC")
    await charging(api, tree["charger"], tree["evse"])
    ocpp_id = tree["charger"]["ocpp_id"]
    path = f"/evses/{tree['uid']}/connectors/1"
    async with running_loop(api) as chargers:
        await profile_sent(chargers, ocpp_id, lambda limit: limit == 32)
        # A DC connector's power bounds its input current: P / (3 x V), told at once.
        response = await spirii(api, "PATCH", path, {"maxElectricPower": 11})
        assert response.status_code == 200, response.text
        expected = dc_input_current(11_000)
        await profile_sent(chargers, ocpp_id, lambda limit: abs(limit - expected) < 0.1)
        # An AC connector's amperage bounds the session.
        ours = f"/evses/{tree['evse']['id']}/connectors/1"
        await api.ok("PATCH", ours, {"power_type": "AC_3_PHASE"})
        response = await spirii(api, "PATCH", path, {"maxAmperage": 13})
        assert response.status_code == 200, response.text
        await profile_sent(chargers, ocpp_id, lambda limit: limit == 13)
