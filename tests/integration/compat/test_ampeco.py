"""The AMPECO surface against its seed page (``PUT .../evses/v2.0/{evse}``) and its public
reference (v3.110: the v2.1 and charge-point EVSE updates, circuits v2.0): each request
replayed through ``/compat/ampeco``, the answer's shape checked, and the effect read back
through our own ``/api/v1`` (the EVSE's connectors, the circuit, the load manager's view)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chargegrid.compat.ids import AliasKind, alias
from chargegrid.store import models as m
from chargegrid.store.uow import UnitOfWork
from tests.integration.compat.live_load import charging, profile_sent, running_loop
from tests.integration.conftest import Api

A = "/compat/ampeco/public-api/resources"
# The surface adds no SQL of its own (circuits are paged by our repository): the services
# under it are tested on both databases elsewhere. One backend keeps this fast.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
pytestmark = SQLITE


async def ampeco(
    api: Api, method: str, path: str, json: Any = None, *, role: str = "admin", **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await api.token(role, kw.pop('sites', None))}"}
    return await api.client.request(method, A + path, json=json, headers=headers, **kw)


async def number(api: Api, kind: AliasKind, entity_id: str) -> int:
    async with UnitOfWork(api.db) as uow:
        return await alias(uow, kind, uuid.UUID(entity_id))


def assert_ampeco_error(response: httpx.Response, status: int, field: str | None = None) -> None:
    """Laravel's ``{"message"}`` (and for 422 ``errors: {field: [...]}``), not problem+json."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["message"]
    if field is not None:
        assert field in body["errors"] and body["errors"][field], body


async def setup(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A site with a charger whose EVSE 1 has connector 1 (AC, 3 phases, 32 A)."""
    site = await api.site(max_current=63)
    charger = await api.charger(site["id"])
    evse = await api.evse(charger["id"])
    return site, charger, evse


# --- the seed: PUT /public-api/resources/evses/v2.0/{evse} ---------------------------------


async def test_seed_put_v20_sets_the_evse_and_its_connector(api: Api) -> None:
    _, charger, evse = await setup(api)
    evse_no = await number(api, AliasKind.EVSE, evse["id"])
    connector_no = await number(api, AliasKind.CONNECTOR, evse["connectors"][0]["id"])
    body = {
        "physicalReference": "QR-0042",
        "type": "ac",
        "maxVoltage": "220-240",
        "phases": "single_phase",
        "phaseRotation": "str",  # one phase: its first letter, S (L2)
        "networkId": "1",
        "status": "active",
        "allowsReservation": False,
        "maxAmperage": 16,
        "maxPowerKw": 3.7,
        "tariffGroupId": 5,  # accepted, not used
        "connectors": [{"id": connector_no, "type": "ccs2", "format": "cable"}],
    }
    response = await ampeco(api, "PUT", f"/evses/v2.0/{evse_no}", body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["id"] == evse_no
    assert data["chargePointId"] == await number(api, AliasKind.CHARGER, charger["id"])
    assert data["physicalReference"] == "QR-0042" and data["networkId"] == "1"
    assert data["type"] == "ac" and data["phases"] == "single_phase" and data["status"] == "active"
    assert data["maxAmperage"] == 16 and data["maxVoltage"] == "230" and data["maxPowerKw"] == 3.7
    assert data["connectors"] == [
        {"id": connector_no, "type": "ccs2", "format": "cable", "status": "enabled"}
    ]
    ours = await api.ok("GET", f"/evses/{evse['id']}")
    assert ours["physical_reference"] == "QR-0042"
    (connector,) = ours["connectors"]
    assert connector["power_type"] == "AC_1_PHASE" and connector["phase_rotation"] == "S"
    assert connector["max_amperage"] == 16 and connector["max_voltage"] == 230
    assert connector["max_electric_power"] == 3700
    assert connector["standard"] == "IEC_62196_T2_COMBO" and connector["format"] == "CABLE"
    assert connector["wiring_source"] == "operator"
    read = await ampeco(api, "GET", f"/evses/v2.0/{evse['id']}")  # a UUID works too
    assert read.json()["data"] == data


async def test_put_v20_is_one_transaction_and_names_ampecos_fields(api: Api) -> None:
    _, _, evse = await setup(api)
    body = {
        "physicalReference": "NEW",
        "type": "ac",
        "maxVoltage": "400",
        "phases": "three_phase",
        "networkId": "1",
        "status": "active",
        "allowsReservation": True,
        "maxAmperage": 2000,  # our rule: 1-1000 A
    }
    response = await ampeco(api, "PUT", f"/evses/v2.0/{evse['id']}", body)
    assert_ampeco_error(response, 422, "maxAmperage")
    assert response.json()["message"] == "The given data was invalid."
    ours = await api.ok("GET", f"/evses/{evse['id']}")
    assert ours["physical_reference"] is None  # the EVSE's part was not applied either
    missing = {k: v for k, v in body.items() if k != "networkId"}
    assert_ampeco_error(
        await ampeco(api, "PUT", f"/evses/v2.0/{evse['id']}", missing), 422, "networkId"
    )


async def test_an_owner_may_repeat_the_wiring_but_not_change_it(api: Api) -> None:
    _, _, evse = await setup(api)
    same = {
        "physicalReference": "P1",
        "type": "ac",
        "maxVoltage": "230",
        "phases": "three_phase",
        "networkId": "1",
        "status": "disabled",
        "allowsReservation": False,
        "maxAmperage": 32,
    }
    response = await ampeco(api, "PUT", f"/evses/v2.0/{evse['id']}", same, role="owner")
    assert response.status_code == 200, response.text
    assert (await api.ok("GET", f"/evses/{evse['id']}"))["enabled"] is False
    changed = {**same, "phases": "single_phase"}
    response = await ampeco(api, "PUT", f"/evses/v2.0/{evse['id']}", changed, role="owner")
    assert_ampeco_error(response, 403)
    assert response.json()["message"] == "This action is unauthorized."


# --- v2.1 and the charge point's EVSE ----------------------------------------------------


async def test_patch_v21_power_options_rewire_the_connectors(api: Api) -> None:
    site, _, evse = await setup(api)
    async with api.db.session() as s:  # a car charging on it: the load manager's view
        s.add(
            m.ChargingSession(
                charger_id=uuid.UUID(evse["charger_id"]),
                evse_number=1,
                connector_id=1,
                transaction_id=11,
                started_at=datetime.now(UTC),
            )
        )
        await s.execute(
            m.Charger.__table__.update()
            .where(m.Charger.id == uuid.UUID(evse["charger_id"]))
            .values(online=True)
        )
    load = await api.ok("GET", f"/sites/{site['id']}/load")
    assert load["sessions"][0]["grid_phases"] == ["l1", "l2", "l3"]

    body = {"powerOptions": {"phases": "single_phase", "connectedPhase": "L2", "maxAmperage": 20}}
    response = await ampeco(api, "PATCH", f"/evses/v2.1/{evse['id']}", body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["powerOptions"]["phases"] == "single_phase"
    assert (
        data["powerOptions"]["connectedPhase"] == "L2" and data["powerOptions"]["maxAmperage"] == 20
    )
    assert data["currentType"] == "ac" and data["status"] == "enabled"
    (connector,) = (await api.ok("GET", f"/evses/{evse['id']}"))["connectors"]
    assert connector["power_type"] == "AC_1_PHASE" and connector["phase_rotation"] == "S"
    load = await api.ok("GET", f"/sites/{site['id']}/load")
    assert load["sessions"][0]["grid_phases"] == ["l2"]  # planned on the line it is on

    body = {
        "powerOptions": {"phases": "three_phase", "phaseRotation": "TRS"},
        "status": "out of order",
    }
    data = (await ampeco(api, "PATCH", f"/evses/v2.1/{evse['id']}", body)).json()["data"]
    assert (
        data["powerOptions"]["phaseRotation"] == "TRS"
        and data["powerOptions"]["connectedPhase"] is None
    )
    assert data["status"] == "disabled"  # out of order takes it out of service
    ours = await api.ok("GET", f"/evses/{evse['id']}")
    assert ours["enabled"] is False and ours["connectors"][0]["phase_rotation"] == "TRS"


async def test_patch_v21_refuses_what_our_rules_refuse(api: Api) -> None:
    _, _, evse = await setup(api)
    path = f"/evses/v2.1/{evse['id']}"
    for body, field in [
        ({"powerOptions": {"phases": "four_phase"}}, "powerOptions.phases"),
        ({"powerOptions": {"connectedPhase": "L1"}}, "powerOptions.connectedPhase"),  # on 3 phases
        ({"powerOptions": {"maxAmperage": 16.5}}, "powerOptions.maxAmperage"),
        ({"networkId": "one"}, "networkId"),
    ]:
        assert_ampeco_error(await ampeco(api, "PATCH", path, body), 422, field)
    viewer = await ampeco(api, "PATCH", path, {"status": "disabled"}, role="viewer")
    assert_ampeco_error(viewer, 403)
    assert_ampeco_error(await ampeco(api, "PATCH", "/evses/v2.1/99999999", {}), 404)
    no_token = await api.client.get(f"{A}{path}")
    assert_ampeco_error(no_token, 401)
    assert no_token.json()["message"] == "Unauthenticated."
    assert (await api.ok("GET", f"/evses/{evse['id']}"))["enabled"] is True

    # One transaction: the service refuses the connector after the EVSE's part went in
    # (a 3-phase rotation left on a connector made single-phase), and nothing stays.
    rotated = {"powerOptions": {"phaseRotation": "TRS"}}
    assert (await ampeco(api, "PATCH", path, rotated)).status_code == 200
    both = {"physicalReference": "X", "powerOptions": {"phases": "single_phase"}}
    assert_ampeco_error(await ampeco(api, "PATCH", path, both), 422, "powerOptions.phaseRotation")
    ours = await api.ok("GET", f"/evses/{evse['id']}")
    assert (
        ours["physical_reference"] is None and ours["connectors"][0]["power_type"] == "AC_3_PHASE"
    )


async def test_the_charge_points_evse_is_addressed_by_both_ids(api: Api) -> None:
    site, charger, evse = await setup(api)
    other = await api.charger(site["id"])
    cp = await number(api, AliasKind.CHARGER, charger["id"])
    evse_no = await number(api, AliasKind.EVSE, evse["id"])
    body = {"physicalReference": "Bay 3", "powerOptions": {"maxVoltage": "400", "maxPower": 22000}}
    response = await ampeco(api, "PATCH", f"/charge-points/v2.0/{cp}/evses/{evse_no}", body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["physicalReference"] == "Bay 3" and data["powerOptions"]["maxPower"] == 22000
    assert data["powerOptions"]["maxVoltage"] == "400"
    read = await ampeco(api, "GET", f"/charge-points/v2.0/{cp}/evses/{evse_no}")
    assert read.json()["data"] == data
    elsewhere = f"/charge-points/v2.0/{other['id']}/evses/{evse_no}"
    assert_ampeco_error(await ampeco(api, "GET", elsewhere), 404)

    # The listing, in AMPECO's shape, a page at a time.
    second = await api.evse(other["id"])
    first = (await ampeco(api, "GET", "/evses/v2.1", params={"per_page": 1})).json()
    assert len(first["data"]) == 1 and first["meta"]["per_page"] == 1
    token = {"Authorization": f"Bearer {await api.token()}"}
    rest = (await api.client.get(first["links"]["next"], headers=token)).json()
    assert rest["links"]["next"] is None
    listed = {e["id"]: e["chargePointId"] for e in first["data"] + rest["data"]}
    second_no = await number(api, AliasKind.EVSE, second["id"])
    assert listed == {evse_no: cp, second_no: await number(api, AliasKind.CHARGER, other["id"])}


# --- circuits v2.0 -------------------------------------------------------------------------


async def test_circuits_create_read_list_update_delete(api: Api) -> None:
    site = await api.site(max_current=63)
    location = await number(api, AliasKind.SITE, site["id"])
    body = {"name": "Garage", "phases": "three_phase", "maxCurrent": 40, "locationId": location}
    response = await ampeco(api, "POST", "/circuits/v2.0", body, role="service")
    assert response.status_code == 201, response.text
    garage = response.json()["data"]
    assert garage["name"] == "Garage" and garage["parentCircuitId"] is None
    assert garage["phases"] == "three_phase" and garage["phaseRotation"] == "RST"
    assert garage["electricalConfiguration"] == "star" and garage["locationId"] == location

    child = {
        "name": "Bay",
        "phases": "single_phase",
        "connectedPhase": "L3",
        "maxCurrent": 16,
        "parentCircuitId": garage["id"],
        "offlineReservedCurrent": 2,
    }
    response = await ampeco(api, "POST", "/circuits/v2.0", child)
    assert response.status_code == 201, response.text
    bay = response.json()["data"]
    assert bay["parentCircuitId"] == garage["id"] and bay["connectedPhase"] == "L3"
    ours = await api.ok("GET", f"/sites/{site['id']}/circuits")
    (our_bay,) = [c for c in ours["data"] if c["name"] == "Bay"]
    assert our_bay["phases"] == 1 and our_bay["phase_rotation"] == "T"
    assert our_bay["offline_reserved_current"] == 2

    first = await ampeco(api, "GET", "/circuits/v2.0", params={"per_page": 1})
    page = first.json()
    assert [c["id"] for c in page["data"]] == [garage["id"]]
    assert page["meta"]["per_page"] == 1 and page["meta"]["next_cursor"]
    assert page["meta"]["path"].endswith("/compat/ampeco/public-api/resources/circuits/v2.0")
    second = await api.client.get(
        page["links"]["next"], headers={"Authorization": f"Bearer {await api.token()}"}
    )
    assert [c["id"] for c in second.json()["data"]] == [bay["id"]]
    assert second.json()["links"]["next"] is None

    # The breaker is the electrician's; a limit above the parent's is our 422.
    patch = f"/circuits/v2.0/{bay['id']}"
    assert_ampeco_error(await ampeco(api, "PATCH", patch, {"maxCurrent": 20}, role="owner"), 403)
    assert_ampeco_error(await ampeco(api, "PATCH", patch, {"maxCurrent": 50}), 422, "maxCurrent")
    response = await ampeco(api, "PATCH", patch, {"maxCurrent": 10, "name": "Bay 1"})
    assert response.status_code == 200, response.text
    assert (
        response.json()["data"]["maxCurrent"] == 10 and response.json()["data"]["name"] == "Bay 1"
    )
    load = await api.ok("GET", f"/sites/{site['id']}/load")
    (node,) = [n for n in load["nodes"] if n["id"] == our_bay["id"]]
    assert node["phases"]["l3"]["limit"] == 10  # the load manager works with it

    read = await ampeco(api, "GET", patch, params={"include[]": ["consumption", "unmanagedLoad"]})
    data = read.json()["data"]
    assert [p["phase"] for p in data["consumption"]] == ["L1", "L2", "L3"]
    assert data["unmanagedLoad"][2]["consumption"] == 0

    busy = await ampeco(api, "DELETE", f"/circuits/v2.0/{garage['id']}")
    assert_ampeco_error(busy, 409)  # it has a sub-circuit
    assert (await ampeco(api, "DELETE", patch)).status_code == 204
    assert_ampeco_error(await ampeco(api, "GET", patch), 404)


async def test_a_circuit_cut_reaches_the_charging_car(api: Api) -> None:
    """A breaker lowered through AMPECO is the load manager's new limit at once: the
    control loop sends the car on that circuit the cut in the round it starts."""
    site = await api.site(max_current=63)
    circuit = await api.circuit(site["id"], max_current=32)
    charger = await api.charger(site["id"], circuit_id=circuit["id"])
    evse = await api.evse(charger["id"])
    await charging(api, charger, evse)
    async with running_loop(api) as chargers:
        await profile_sent(chargers, charger["ocpp_id"], lambda limit: limit == 32)
        path = f"/circuits/v2.0/{await number(api, AliasKind.CIRCUIT, circuit['id'])}"
        response = await ampeco(api, "PATCH", path, {"maxCurrent": 13})
        assert response.status_code == 200, response.text
        await profile_sent(chargers, charger["ocpp_id"], lambda limit: limit == 13)


async def test_circuit_fields_chargegrid_cannot_honour_are_422(api: Api) -> None:
    site = await api.site(max_current=63)
    base = {"name": "C", "phases": "three_phase", "maxCurrent": 32, "locationId": site["id"]}
    for extra, field in [
        ({"phases": "split_phase"}, "phases"),
        ({"minChargePointCurrent": 6}, "minChargePointCurrent"),
        ({"electricalConfiguration": "delta"}, "electricalConfiguration"),  # the site is TN
        ({"loadBalancingIntegration": {"id": 3}}, "loadBalancingIntegration"),
        ({"electricityMeterId": 12}, "electricityMeterId"),
        ({"parentCircuitId": 99999999}, "parentCircuitId"),
        ({"maxCurrent": 100}, "maxCurrent"),  # above the main fuse
        ({"locationId": None}, "locationId"),
    ]:
        response = await ampeco(api, "POST", "/circuits/v2.0", {**base, **extra})
        assert_ampeco_error(response, 422, field)
    accepted = {
        "maxVoltage": "400",
        "setSessionLimitToZeroOnIdle": True,
        "minChargePointCurrent": None,
    }
    response = await ampeco(api, "POST", "/circuits/v2.0", {**base, **accepted})
    assert response.status_code == 201, response.text
    # A token scoped to one site needs no locationId.
    scoped = {k: v for k, v in base.items() if k != "locationId"}
    response = await ampeco(api, "POST", "/circuits/v2.0", scoped, sites=[uuid.UUID(site["id"])])
    assert response.status_code == 201, response.text


async def test_openapi_documents_the_surface_under_its_tag(api: Api) -> None:
    doc = (await api.client.get("/compat/ampeco/openapi.json")).json()
    paths = doc["paths"]
    expected = {
        "/public-api/resources/evses/v2.0/{evse}": {"get", "put"},
        "/public-api/resources/evses/v2.1": {"get"},
        "/public-api/resources/evses/v2.1/{evse}": {"get", "patch"},
        "/public-api/resources/charge-points/v2.0/{chargePoint}/evses/{evse}": {"get", "patch"},
        "/public-api/resources/circuits/v2.0": {"get", "post"},
        "/public-api/resources/circuits/v2.0/{circuit}": {"get", "patch", "delete"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for operation in paths[path].values():
            assert operation["tags"] == ["AMPECO"]
            assert {"401", "403", "404", "422"} <= set(operation["responses"])
