"""The circuit tree: ratings, cycles, sites, phase rotation, roles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Api, assert_problem


@pytest.fixture
async def site(api: Api) -> dict[str, Any]:
    return await api.site(max_current=63)


async def test_nested_tree_and_defaults(api: Api, site: dict[str, Any]) -> None:
    parent = await api.circuit(site["id"], name="Main", max_current=40)
    child = await api.circuit(site["id"], name="Row", max_current=25, parent_id=parent["id"])
    assert child["parent_id"] == parent["id"]
    assert parent["phases"] == 3 and parent["phase_rotation"] == "RST"
    assert parent["effective_available_current"] == {"l1": 40, "l2": 40, "l3": 40}
    listed = await api.ok("GET", f"/sites/{site['id']}/circuits")
    assert {c["id"] for c in listed["data"]} == {parent["id"], child["id"]}


async def test_child_may_not_exceed_parent(api: Api, site: dict[str, Any]) -> None:
    parent = await api.circuit(site["id"], max_current=32)
    body = {"name": "Too big", "max_current": 40, "parent_id": parent["id"]}
    assert_problem(
        await api.call("POST", f"/sites/{site['id']}/circuits", body), 422, "max_current"
    )
    child = await api.circuit(site["id"], max_current=16, parent_id=parent["id"])
    response = await api.call("PATCH", f"/circuits/{child['id']}", {"max_current": 33})
    assert_problem(response, 422, "max_current")
    # Lowering the parent below a child is the same clash, seen from above.
    response = await api.call("PATCH", f"/circuits/{parent['id']}", {"max_current": 10})
    assert_problem(response, 422, "max_current")


async def test_top_level_circuit_may_not_exceed_the_main_fuse(
    api: Api, site: dict[str, Any]
) -> None:
    body = {"name": "Big", "max_current": 64}
    assert_problem(
        await api.call("POST", f"/sites/{site['id']}/circuits", body), 422, "max_current"
    )


async def test_cycles_are_422(api: Api, site: dict[str, Any]) -> None:
    a = await api.circuit(site["id"], name="A")
    b = await api.circuit(site["id"], name="B", parent_id=a["id"])
    c = await api.circuit(site["id"], name="C", parent_id=b["id"])
    for parent in (c["id"], a["id"]):  # grandchild, and itself
        response = await api.call("PATCH", f"/circuits/{a['id']}", {"parent_id": parent})
        assert_problem(response, 422, "parent_id")
    assert (await api.ok("GET", f"/circuits/{a['id']}"))["parent_id"] is None


async def test_parent_on_another_site_is_422(api: Api, site: dict[str, Any]) -> None:
    other = await api.site(name="Other")
    foreign = await api.circuit(other["id"])
    body = {"name": "X", "max_current": 10, "parent_id": foreign["id"]}
    assert_problem(await api.call("POST", f"/sites/{site['id']}/circuits", body), 422, "parent_id")


@pytest.mark.parametrize(
    ("phases", "rotation", "ok"),
    [
        (3, "STR", True),
        (3, "TSR", True),
        (1, "S", True),
        (1, "T", True),
        (1, "RST", False),
        (3, "S", False),
        (3, "RS", False),
        (3, "RRS", False),
        (3, "XYZ", False),
    ],
)
async def test_rotation_must_match_phases(
    api: Api, site: dict[str, Any], phases: int, rotation: str, ok: bool
) -> None:
    body = {"name": "C", "max_current": 16, "phases": phases, "phase_rotation": rotation}
    response = await api.call("POST", f"/sites/{site['id']}/circuits", body)
    if ok:
        assert response.status_code == 201, response.text
        assert response.json()["phase_rotation"] == rotation
    else:
        assert_problem(response, 422, "phase_rotation")


async def test_three_phase_child_under_single_phase_parent_is_422(
    api: Api, site: dict[str, Any]
) -> None:
    parent = await api.circuit(site["id"], phases=1, phase_rotation="T", max_current=16)
    body = {"name": "C", "max_current": 16, "phases": 3, "parent_id": parent["id"]}
    response = await api.call("POST", f"/sites/{site['id']}/circuits", body)
    assert response.status_code == 422, response.text
    ok = {"name": "C", "max_current": 16, "phases": 1, "parent_id": parent["id"]}
    assert (await api.call("POST", f"/sites/{site['id']}/circuits", ok)).status_code == 201


async def test_changing_phases_moves_a_straight_rotation_along(
    api: Api, site: dict[str, Any]
) -> None:
    circuit = await api.circuit(site["id"])
    out = await api.ok("PATCH", f"/circuits/{circuit['id']}", {"phases": 1})
    assert out["phases"] == 1 and out["phase_rotation"] == "R"


async def test_circuit_override_is_clamped_and_owner_may_set_it(
    api: Api, site: dict[str, Any]
) -> None:
    circuit = await api.circuit(site["id"], max_current=25)
    out = await api.ok(
        "PATCH", f"/circuits/{circuit['id']}", {"available_current": 99}, role="owner"
    )
    assert out["effective_available_current"] == {"l1": 25, "l2": 25, "l3": 25}
    response = await api.call(
        "PATCH", f"/circuits/{circuit['id']}", {"max_current": 20}, role="owner"
    )
    assert_problem(response, 403)


async def test_meter_must_be_on_the_same_site(api: Api, site: dict[str, Any]) -> None:
    other = await api.site(name="Other")
    meter = await api.ok("POST", "/electricity-meters", {"name": "M", "site_id": other["id"]})
    circuit = await api.circuit(site["id"])
    response = await api.call(
        "PATCH", f"/circuits/{circuit['id']}", {"electricity_meter_id": meter["id"]}
    )
    assert_problem(response, 422, "electricity_meter_id")


async def test_delete_refuses_while_something_hangs_below(api: Api, site: dict[str, Any]) -> None:
    parent = await api.circuit(site["id"])
    child = await api.circuit(site["id"], max_current=16, parent_id=parent["id"])
    assert_problem(await api.call("DELETE", f"/circuits/{parent['id']}"), 409)
    await api.charger(site["id"], circuit_id=child["id"])
    assert_problem(await api.call("DELETE", f"/circuits/{child['id']}"), 409)
    empty = await api.circuit(site["id"])
    assert (await api.call("DELETE", f"/circuits/{empty['id']}")).status_code == 204
