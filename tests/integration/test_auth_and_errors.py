"""Bearer tokens, roles, site scopes; problem+json for every kind of error; pagination."""

from __future__ import annotations

import uuid

import pytest

from chargegrid.services.auth import revoke_token
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import API, Api, assert_problem


async def test_no_token_is_401(api: Api) -> None:
    response = await api.client.get(API + "/sites")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer cg_nope", "Bearer ", "Basic YWJjOmRlZg==", "cg_x"])
async def test_bad_token_is_401(api: Api, header: str) -> None:
    response = await api.client.get(API + "/sites", headers={"Authorization": header})
    assert_problem(response, 401)


async def test_revoked_token_is_401_once_the_cache_lapses(api: Api) -> None:
    token = await api.token("admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get(API + "/sites", headers=headers)).status_code == 200
    async with UnitOfWork(api.db) as uow:  # as `chargegrid token revoke` does
        page = await uow.tokens.page(uow.tokens.select(), 10, None)
        await revoke_token(uow, page.items[0].id)
    cache = api.app.state.principals
    assert (await api.client.get(API + "/sites", headers=headers)).status_code == 200
    later = cache.clock() + cache.ttl_s
    cache.clock = lambda: later
    assert_problem(await api.client.get(API + "/sites", headers=headers), 401)


async def test_site_scoped_token_sees_only_its_sites(api: Api) -> None:
    mine, theirs = await api.site(name="Mine"), await api.site(name="Theirs")
    my_charger = await api.charger(mine["id"])
    their_charger = await api.charger(theirs["id"])
    their_circuit = await api.circuit(theirs["id"])
    scope = [uuid.UUID(mine["id"])]

    listed = await api.ok("GET", "/sites", role="owner", sites=scope)
    assert [s["id"] for s in listed["data"]] == [mine["id"]]
    chargers = await api.ok("GET", "/chargers", role="owner", sites=scope)
    assert [c["id"] for c in chargers["data"]] == [my_charger["id"]]
    for path in (
        f"/sites/{theirs['id']}",
        f"/chargers/{their_charger['id']}",
        f"/circuits/{their_circuit['id']}",
        f"/sites/{theirs['id']}/circuits",
        f"/chargers/{their_charger['id']}/evses",
    ):
        assert_problem(await api.call("GET", path, role="owner", sites=scope), 404)
    response = await api.call(
        "PATCH", f"/sites/{theirs['id']}", {"available_current": 1}, role="owner", sites=scope
    )
    assert_problem(response, 404)
    # Moving a charger into a site outside the scope is just as invisible.
    response = await api.call(
        "PATCH",
        f"/chargers/{my_charger['id']}",
        {"site_id": theirs["id"]},
        role="service",
        sites=scope,
    )
    assert_problem(response, 404)


async def test_viewer_reads_but_never_writes(api: Api) -> None:
    site = await api.site()
    assert (await api.call("GET", f"/sites/{site['id']}", role="viewer")).status_code == 200
    for method, path, body in (
        ("PATCH", f"/sites/{site['id']}", {"name": "x"}),
        ("POST", "/sites", {"name": "x", "max_current": 10}),
        ("POST", "/id-tags", {"id_tag": "ABC"}),
        ("DELETE", f"/sites/{site['id']}", None),
    ):
        assert_problem(await api.call(method, path, body, role="viewer"), 403)


async def test_unknown_route_and_wrong_method_are_problems(api: Api) -> None:
    response = await api.call("GET", "/no-such-thing")
    assert_problem(response, 404)
    response = await api.client.get("/definitely/not/here")
    assert_problem(response, 404)
    response = await api.call("PUT", "/sites")
    assert_problem(response, 405)
    assert "allow" in response.headers


async def test_malformed_bodies_are_422(api: Api) -> None:
    headers = {
        "Authorization": f"Bearer {await api.token()}",
        "Content-Type": "application/json",
    }
    response = await api.client.post(API + "/sites", content=b"{not json", headers=headers)
    assert_problem(response, 422, "body")
    response = await api.client.post(API + "/sites", content=b"[1, 2]", headers=headers)
    assert_problem(response, 422)
    response = await api.client.post(
        API + "/sites", content=b'{"name": "x", "max_current": NaN}', headers=headers
    )
    assert_problem(response, 422, "max_current")


async def test_missing_and_unknown_fields_are_named(api: Api) -> None:
    response = await api.call("POST", "/sites", {"name": "x", "max_curent": 10})
    assert_problem(response, 422, "max_current")
    assert_problem(response, 422, "max_curent")
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages == {"max_current": "required", "max_curent": "unknown field"}


async def test_bad_ids_and_list_parameters_are_422(api: Api) -> None:
    assert_problem(await api.call("GET", "/sites/not-a-uuid"), 422, "site_id")
    assert_problem(await api.call("GET", "/sites", params={"limit": 0}), 422, "limit")
    assert_problem(await api.call("GET", "/sites", params={"cursor": "%%%"}), 422, "cursor")


async def test_cursor_pagination_visits_every_item_once(api: Api) -> None:
    made = {(await api.site(name=f"S{i}"))["id"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", "/sites", params=params)
        assert len(page["data"]) <= 3
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == made


async def test_openapi_is_served_with_the_contract_paths(api: Api) -> None:
    response = await api.client.get(API + "/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/sites/{site_id}",
        "/api/v1/sites/{site_id}/circuits",
        "/api/v1/chargers/{charger_id}/connectors/{connector_id}",
        "/api/v1/evses/{evse_id}/connectors/{connector_id}",
        "/api/v1/electricity-meters/{meter_id}/readings",
        "/api/v1/sessions/{session_id}/meter-values",
        "/api/v1/id-tags/{tag_id}",
    ):
        assert path in paths, path


async def test_health_and_prometheus_metrics_need_no_token(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "python_info" in response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/sites", {"name": "a\x00b", "max_current": 10}, "name"),
        ("/id-tags", {"id_tag": "TAG", "parent_id_tag": "P\x00"}, "parent_id_tag"),
    ],
)
async def test_nul_characters_are_422_not_a_database_error(
    api: Api, path: str, body: dict[str, object], field: str
) -> None:
    assert_problem(await api.call("POST", path, body), 422, field)


async def test_lone_surrogates_are_422(api: Api) -> None:
    headers = {
        "Authorization": f"Bearer {await api.token()}",
        "Content-Type": "application/json",
    }
    body = b'{"name": "a\\ud800", "max_current": 10}'  # valid JSON, not valid UTF-8 text
    response = await api.client.post(API + "/sites", content=body, headers=headers)
    assert_problem(response, 422, "name")
