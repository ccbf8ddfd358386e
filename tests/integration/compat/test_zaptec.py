"""The Zaptec surface against its seed pages (installation and charger update) and its
public reference: every rule replayed through ``/compat/zaptec``, the answer's shape
checked, and the effect read back through our own ``/api/v1``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from chargegrid.compat.ids import AliasKind, alias
from chargegrid.services.auth import authenticate, revoke_token
from chargegrid.store.uow import UnitOfWork
from tests.integration.compat.live_load import charging, profile_sent, running_loop, session_view
from tests.integration.conftest import Api

Z = "/compat/zaptec"
# The surface adds no SQL but its list paging (tested on both databases below); the
# services under it are tested on both by tests/integration. One backend keeps it fast.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def zaptec(
    api: Api,
    method: str,
    path: str,
    json: Any = None,
    *,
    role: str = "admin",
    sites: list[uuid.UUID] | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await api.token(role, sites)}"}
    return await api.client.request(method, Z + path, json=json, headers=headers, params=params)


async def update_site(api: Api, site_id: str, body: dict[str, Any], **kw: Any) -> None:
    response = await zaptec(api, "POST", f"/api/installation/{site_id}/update", body, **kw)
    assert response.status_code == 200, response.text
    assert response.content == b""  # Zaptec answers an update with an empty body


async def effective(api: Api, site_id: str) -> tuple[float, float, float]:
    site = await api.ok("GET", f"/sites/{site_id}")
    e = site["effective_available_current"]
    return e["l1"], e["l2"], e["l3"]


def assert_zaptec_error(response: httpx.Response, status: int, field: str | None = None) -> None:
    """Zaptec's error body ``{"Code", "Details"}``; never our problem+json."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["Code"] == status and body["Details"]
    if field is not None:
        assert field in [e["Field"] for e in body["Errors"]], body


# --- seed 000: installation update -------------------------------------------------------


@SQLITE
async def test_available_current_sets_all_phases_and_the_load_managers_limit(api: Api) -> None:
    site = await api.site(max_current=63)
    await update_site(api, site["id"], {"AvailableCurrent": 16})
    assert await effective(api, site["id"]) == (16, 16, 16)
    # What the load manager works with: the site's node limit on every phase.
    load = await api.ok("GET", f"/sites/{site['id']}/load")
    (node,) = [n for n in load["nodes"] if n["kind"] == "site"]
    assert [node["phases"][p]["limit"] for p in ("l1", "l2", "l3")] == [16, 16, 16]
    read = (await zaptec(api, "GET", f"/api/installation/{site['id']}")).json()
    assert read["AvailableCurrent"] == 16 and read["MaxCurrent"] == 63
    assert [read[f"AvailableCurrentPhase{i}"] for i in (1, 2, 3)] == [16, 16, 16]


@SQLITE
async def test_keys_are_case_insensitive_as_clients_send_camel_case(api: Api) -> None:
    site = await api.site(max_current=40)
    await update_site(api, site["id"], {"availableCurrent": 20, "minpoweroFFlinemode": True})
    assert await effective(api, site["id"]) == (20, 20, 20)
    assert (await api.ok("GET", f"/sites/{site['id']}"))["offline_limit_to_min_current"] is True


@SQLITE
async def test_above_the_maximum_is_clamped_and_negative_clears(api: Api) -> None:
    site = await api.site(max_current=32)
    await update_site(api, site["id"], {"AvailableCurrent": 100})
    assert await effective(api, site["id"]) == (32, 32, 32)
    read = (await zaptec(api, "GET", f"/api/installation/{site['id']}")).json()
    assert read["AvailableCurrent"] == 32
    await update_site(api, site["id"], {"AvailableCurrent": 0})  # 0 pauses charging
    assert await effective(api, site["id"]) == (0, 0, 0)
    await update_site(api, site["id"], {"AvailableCurrent": -1})
    assert await effective(api, site["id"]) == (32, 32, 32)
    assert (await zaptec(api, "GET", f"/api/installation/{site['id']}")).json()[
        "AvailableCurrent"
    ] is None


@SQLITE
async def test_per_phase_a_phase_left_out_goes_to_default(api: Api) -> None:
    site = await api.site(max_current=40)
    await update_site(api, site["id"], {"AvailableCurrentPhase1": 10, "AvailableCurrentPhase3": 12})
    assert await effective(api, site["id"]) == (10, 40, 12)
    await update_site(api, site["id"], {"AvailableCurrentPhase2": 8})
    assert await effective(api, site["id"]) == (40, 8, 40)
    read = (await zaptec(api, "GET", f"/api/installation/{site['id']}")).json()
    assert read["AvailableCurrent"] is None  # set per phase, not on all alike


@SQLITE
async def test_both_kinds_is_400_and_null_means_not_sent(api: Api) -> None:
    site = await api.site(max_current=40)
    both = {"AvailableCurrent": 16, "AvailableCurrentPhase1": 10}
    response = await zaptec(api, "POST", f"/api/installation/{site['id']}/update", both)
    assert_zaptec_error(response, 400, "AvailableCurrent")
    assert await effective(api, site["id"]) == (40, 40, 40)  # nothing changed
    # A C# client sends every property; its nulls are "not sent".
    nulls = {
        "AvailableCurrent": None,
        "AvailableCurrentPhase1": 9,
        "AvailableCurrentPhase2": 9,
        "AvailableCurrentPhase3": 9,
        "MaxCurrent": None,
        "MinPowerOfflineMode": None,
        "ThreeToOnePhaseSwitchCurrent": None,
    }
    await update_site(api, site["id"], nulls)
    assert await effective(api, site["id"]) == (9, 9, 9)


@SQLITE
async def test_max_current_needs_the_service_role(api: Api) -> None:
    site = await api.site(max_current=40)
    path = f"/api/installation/{site['id']}/update"
    response = await zaptec(api, "POST", path, {"MaxCurrent": 50}, role="owner")
    assert_zaptec_error(response, 403)
    await update_site(api, site["id"], {"MaxCurrent": 50}, role="service")
    assert (await api.ok("GET", f"/sites/{site['id']}"))["max_current"] == 50
    # The owner may still set the operational fields.
    await update_site(api, site["id"], {"ThreeToOnePhaseSwitchCurrent": 10}, role="owner")
    assert (await api.ok("GET", f"/sites/{site['id']}"))["three_to_one_phase_switch_current"] == 10
    viewer = await zaptec(api, "POST", path, {"AvailableCurrent": 10}, role="viewer")
    assert_zaptec_error(viewer, 403)


@SQLITE
async def test_bad_values_are_400_naming_the_zaptec_field(api: Api) -> None:
    site = await api.site(max_current=40)
    for body, field in [
        ({"ThreeToOnePhaseSwitchCurrent": 40}, "ThreeToOnePhaseSwitchCurrent"),  # our 6-32 A
        ({"AvailableCurrent": "16"}, "AvailableCurrent"),  # a string is not amps
        ({"MinPowerOfflineMode": 1}, "MinPowerOfflineMode"),
        ({"AvailableCurent": 16}, "AvailableCurent"),  # misspelt: refused, never dropped
        ({"MaxCurrent": -5}, "MaxCurrent"),
        ({"availableCurrent": 6, "AvailableCurrent": 7}, "body"),  # one key, twice
    ]:
        response = await zaptec(api, "POST", f"/api/installation/{site['id']}/update", body)
        assert_zaptec_error(response, 400, field)
    assert await effective(api, site["id"]) == (40, 40, 40)


@SQLITE
async def test_unauthorized_forbidden_and_unknown(api: Api) -> None:
    site = await api.site()
    path = f"{Z}/api/installation/{site['id']}"
    missing = await api.client.get(path)
    assert_zaptec_error(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await api.client.get(path, headers={"Authorization": "Bearer cg_nope"})
    assert_zaptec_error(wrong, 401)
    assert_zaptec_error(await zaptec(api, "GET", f"/api/installation/{uuid.uuid4()}"), 404)
    other = await api.site(name="other")
    scoped = await zaptec(
        api, "GET", f"/api/installation/{site['id']}", sites=[uuid.UUID(other["id"])]
    )
    assert_zaptec_error(scoped, 404)  # outside the token's sites is unknown


@SQLITE
async def test_an_installation_is_also_found_by_its_integer_alias(api: Api) -> None:
    site = await api.site()
    async with UnitOfWork(api.db) as uow:
        number = await alias(uow, AliasKind.SITE, uuid.UUID(site["id"]))
    await update_site(api, str(number), {"AvailableCurrent": 7})
    assert await effective(api, site["id"]) == (7, 7, 7)
    read = await zaptec(api, "GET", f"/api/installation/{number}")
    assert read.json()["Id"] == site["id"]


@SQLITE
async def test_an_available_current_update_rebalances_the_charging_car(api: Api) -> None:
    """Seed 000: "Updating available current will instantly trigger phase and load
    balancing": the running session's charger is sent the cut in the round it starts."""
    site = await api.site(max_current=32)
    charger = await api.charger(site["id"])
    evse = await api.evse(charger["id"])
    session_id = await charging(api, charger, evse)
    async with running_loop(api) as chargers:
        await profile_sent(chargers, charger["ocpp_id"], lambda limit: limit == 32)
        await update_site(api, site["id"], {"AvailableCurrent": 10})
        await profile_sent(chargers, charger["ocpp_id"], lambda limit: limit == 10)
        view = await session_view(api, site["id"], session_id, lambda s: s["limit"] == 10)
        assert view["reason"]
        load = await api.ok("GET", f"/sites/{site['id']}/load")
        assert load["nodes"][0]["phases"]["l2"]["limit"] == 10
        state = (await zaptec(api, "GET", f"/api/chargers/{charger['id']}/state")).json()
        by_id = {s["StateId"]: s["ValueAsString"] for s in state}
        assert by_id[708] == "10" and by_id[-2] == "1"

        # Cleared (-1), the site's limit is its fuse again. (The raise itself goes out
        # once the cut's reaction time has passed: docs/load-api.md "slowing_down".)
        await update_site(api, site["id"], {"AvailableCurrent": -1})
        await session_view(api, site["id"], session_id, lambda s: s["limit"] == 32)
        load = await api.ok("GET", f"/sites/{site['id']}/load")
        assert load["nodes"][0]["phases"]["l2"]["limit"] == 32


# --- seed 001: charger update ------------------------------------------------------------


@SQLITE
async def test_charger_update_sets_every_field_through_our_rules(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    body = {
        "maxChargeCurrent": 20,
        "maxChargePhases": 1,
        "minChargeCurrent": 8,
        "meterValueInterval": 1800,
        "offlineChargeCurrent": 10,
        "offlineChargePhase": 4,
    }
    response = await zaptec(
        api, "POST", f"/api/chargers/{charger['id']}/update", body, role="owner"
    )
    assert response.status_code == 200 and response.content == b"", response.text
    ours = await api.ok("GET", f"/chargers/{charger['id']}")
    assert ours["max_charge_current"] == 20 and ours["max_charge_phases"] == 1
    assert ours["min_charge_current"] == 8 and ours["meter_value_interval"] == 1800
    assert ours["offline_charge_current"] == 10 and ours["offline_charge_phase"] == 4
    assert ours["config_sync"] == "pending"  # offline settings are pushed to the charger
    read = (await zaptec(api, "GET", f"/api/chargers/{charger['id']}")).json()
    assert read["MaxChargeCurrent"] == 20 and read["OfflineChargePhase"] == 4
    # The seed's "back to automatic": -1 and 0; null is ignored.
    automatic = {"OfflineChargeCurrent": -1, "OfflineChargePhase": 0, "MaxChargeCurrent": None}
    response = await zaptec(api, "POST", f"/api/chargers/{charger['id']}/update", automatic)
    assert response.status_code == 200, response.text
    ours = await api.ok("GET", f"/chargers/{charger['id']}")
    assert ours["offline_charge_current"] == -1 and ours["offline_charge_phase"] == 0
    assert ours["max_charge_current"] == 20


@SQLITE
async def test_charger_update_refuses_what_our_api_refuses(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    path = f"/api/chargers/{charger['id']}/update"
    for body, field in [
        ({"OfflineChargeCurrent": 33}, "OfflineChargeCurrent"),  # -1 or 0-32 (our validator)
        ({"OfflineChargePhase": 3}, "OfflineChargePhase"),
        ({"MaxChargePhases": 2}, "MaxChargePhases"),
        ({"MaxChargeCurrent": 40}, "MaxChargeCurrent"),
        ({"MeterValueInterval": -1}, "MeterValueInterval"),
    ]:
        assert_zaptec_error(await zaptec(api, "POST", path, body), 400, field)
    viewer = await zaptec(api, "POST", path, {"MaxChargeCurrent": 10}, role="viewer")
    assert_zaptec_error(viewer, 403)
    assert_zaptec_error(await zaptec(api, "POST", f"/api/chargers/{uuid.uuid4()}/update", {}), 404)
    ours = await api.ok("GET", f"/chargers/{charger['id']}")
    assert ours["max_charge_current"] is None and ours["offline_charge_phase"] == 0


# --- reads ---------------------------------------------------------------------------------


async def test_lists_hierarchy_and_state(api: Api) -> None:
    site = await api.site(name="Home", max_current=40)
    circuit = await api.circuit(site["id"], name="Garage", max_current=32)
    in_circuit = await api.charger(site["id"], circuit_id=circuit["id"])
    on_main = await api.charger(site["id"])
    await api.evse(in_circuit["id"])
    other = await api.site(name="Elsewhere")
    await api.charger(other["id"])

    scoped = [uuid.UUID(site["id"])]
    listing = (await zaptec(api, "GET", "/api/installation", role="viewer", sites=scoped)).json()
    assert listing["Pages"] == 1 and [i["Id"] for i in listing["Data"]] == [site["id"]]
    assert listing["Data"][0]["CurrentUserRoles"] == 1  # a viewer is a Zaptec User
    paged = (await zaptec(api, "GET", "/api/installation", params={"PageSize": 1})).json()
    assert paged["Pages"] == 2 and len(paged["Data"]) == 1

    tree = (await zaptec(api, "GET", f"/api/installation/{site['id']}/hierarchy")).json()
    assert tree["Id"] == site["id"] and tree["NetworkType"] == 4  # TN, 3 phases
    circuits = {c["Id"]: c for c in tree["Circuits"]}
    assert [c["Id"] for c in circuits[circuit["id"]]["Chargers"]] == [in_circuit["id"]]
    assert circuits[circuit["id"]]["MaxCurrent"] == 32
    main = circuits[site["id"]]  # the main fuse, for the charger wired straight to it
    assert [c["Id"] for c in main["Chargers"]] == [on_main["id"]] and main["MaxCurrent"] == 40

    chargers = (
        await zaptec(api, "GET", "/api/chargers", params={"InstallationId": site["id"]})
    ).json()
    assert {c["Id"] for c in chargers["Data"]} == {in_circuit["id"], on_main["id"]}
    one = (await zaptec(api, "GET", f"/api/chargers/{in_circuit['id']}")).json()
    assert one["CircuitId"] == circuit["id"] and one["InstallationName"] == "Home"
    assert one["IsOnline"] is False and one["DeviceId"] == in_circuit["ocpp_id"]

    state = (await zaptec(api, "GET", f"/api/chargers/{in_circuit['id']}/state")).json()
    by_id = {s["StateId"]: s["ValueAsString"] for s in state}
    assert by_id[-2] == "0" and by_id[710] == "0"  # offline, mode unknown
    assert by_id[511] == "6" and by_id[510] == "32" and by_id[800] == site["id"]
    assert all(s["ChargerId"] == in_circuit["id"] for s in state)

    # What Zaptec's best-known client (Home Assistant's) reads besides.
    firmware = (await zaptec(api, "GET", f"/api/chargerFirmware/installation/{site['id']}")).json()
    assert {f["ChargerId"] for f in firmware} == {in_circuit["id"], on_main["id"]}
    stream = await zaptec(api, "GET", f"/api/installation/{site['id']}/messagingConnectionDetails")
    assert_zaptec_error(stream, 403)  # no service-bus stream: clients poll instead
    constants = (await zaptec(api, "GET", "/api/constants")).json()
    assert constants["ObservationIds"]["ChargeCurrentSet"] == 708


# --- logging in ----------------------------------------------------------------------------


async def login(api: Api, form: dict[str, str] | str) -> httpx.Response:
    if isinstance(form, str):
        return await api.client.post(f"{Z}/oauth/token", content=form)
    return await api.client.post(f"{Z}/oauth/token", data=form)


@SQLITE
async def test_password_grant_takes_a_token_id_and_the_token(api: Api) -> None:
    site = await api.site()
    token = await api.token("owner")
    async with UnitOfWork(api.db) as uow:
        principal = await authenticate(uow, token)
    assert principal is not None and principal.token_id is not None
    form = {"grant_type": "password", "username": str(principal.token_id), "password": token}
    response = await login(api, form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    # The access token works on the surface (and is the API token).
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    read = await api.client.get(f"{Z}/api/installation/{site['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["CurrentUserRoles"] == 3  # User|Owner

    for bad, error in [
        ({**form, "password": token + "x"}, "invalid_grant"),
        ({**form, "username": str(uuid.uuid4())}, "invalid_grant"),
        ({**form, "grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": str(principal.token_id)}, "invalid_request"),
    ]:
        refused = await login(api, bad)
        assert refused.status_code == 400 and refused.json()["error"] == error, refused.text
    as_json = await api.client.post(f"{Z}/oauth/token", json=form)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    huge = await login(api, {**form, "scope": "x" * 5000})
    assert huge.status_code == 400 and huge.json()["error"] == "invalid_request"

    async with UnitOfWork(api.db) as uow:
        await revoke_token(uow, principal.token_id)
    api.app.state.principals._entries.clear()  # as the cache's TTL would, at once
    revoked = await login(api, form)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"


# --- the document ----------------------------------------------------------------------------


@SQLITE
async def test_openapi_documents_the_surface_under_its_tag(api: Api) -> None:
    doc = (await api.client.get(f"{Z}/openapi.json")).json()
    paths = doc["paths"]
    for path in (
        "/oauth/token",
        "/api/installation",
        "/api/installation/{installation_id}",
        "/api/installation/{installation_id}/hierarchy",
        "/api/installation/{installation_id}/update",
        "/api/chargers",
        "/api/chargers/{charger_id}",
        "/api/chargers/{charger_id}/state",
        "/api/chargers/{charger_id}/update",
    ):
        for operation in paths[path].values():
            assert operation["tags"] == ["Zaptec"], path
    update = paths["/api/installation/{installation_id}/update"]["post"]
    assert {"400", "401", "403"} <= set(update["responses"])
