"""Sites (seed 000, Zaptec installation update) through the REST API, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from chargegrid.services.configure.expiry import expire_overrides
from chargegrid.store.models import Site
from chargegrid.store.types import utcnow
from tests.integration.conftest import Api, assert_problem


def effective(site: dict[str, object]) -> tuple[object, object, object]:
    eff = site["effective_available_current"]
    assert isinstance(eff, dict)
    return (eff["l1"], eff["l2"], eff["l3"])


async def test_create_and_read_back_with_defaults(api: Api) -> None:
    site = await api.site(name="Garage", max_current=63)
    read = await api.ok("GET", f"/sites/{site['id']}")
    assert read["name"] == "Garage"
    assert read["network_type"] == "TN" and read["nominal_voltage"] == 230
    assert read["offline_limit_to_min_current"] is False
    assert read["three_to_one_phase_switch_current"] is None
    assert effective(read) == (63, 63, 63)
    assert read["available_current"] is None


async def test_available_current_on_all_phases(api: Api) -> None:
    site = await api.site(max_current=63)
    out = await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 40})
    assert effective(out) == (40, 40, 40)
    assert out["available_current"] == 40


async def test_per_phase_override_left_out_phases_go_to_default(api: Api) -> None:
    site = await api.site(max_current=63)
    await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 20})
    out = await api.ok("PATCH", f"/sites/{site['id']}", {"available_current_phase2": 10})
    assert effective(out) == (63, 10, 63)
    assert out["available_current_phase2"] == 10
    assert out["available_current_phase1"] is None
    assert out["available_current"] is None


async def test_giving_both_forms_is_422(api: Api) -> None:
    site = await api.site()
    response = await api.call(
        "PATCH", f"/sites/{site['id']}", {"available_current": 20, "available_current_phase1": 10}
    )
    assert_problem(response, 422, "available_current")
    assert effective(await api.ok("GET", f"/sites/{site['id']}")) == (63, 63, 63)


@pytest.mark.parametrize("clear", [-1, -0.5, None])
async def test_negative_or_null_clears_the_override(api: Api, clear: float | None) -> None:
    site = await api.site(max_current=50)
    await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 16})
    out = await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": clear})
    assert effective(out) == (50, 50, 50)
    assert out["available_current"] is None


async def test_override_above_max_current_is_clamped(api: Api) -> None:
    site = await api.site(max_current=63)
    out = await api.ok(
        "PATCH",
        f"/sites/{site['id']}",
        {"available_current_phase1": 100, "available_current_phase3": 30},
    )
    assert effective(out) == (63, 63, 30)
    assert out["available_current_phase1"] == 63  # stored clamped, as it is applied
    out = await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 80})
    assert out["available_current"] == 63 and effective(out) == (63, 63, 63)


async def test_ttl_sets_an_expiry_and_the_override_lapses(api: Api) -> None:
    site = await api.site(max_current=63)
    before = utcnow()
    out = await api.ok(
        "PATCH", f"/sites/{site['id']}", {"available_current": 10, "available_current_ttl_s": 600}
    )
    assert effective(out) == (10, 10, 10)
    assert out["available_current_expires_at"] is not None
    # Let the clock pass the expiry: move the stored expiry into the past.
    async with api.db.session() as session:
        await session.execute(
            update(Site).values(available_current_expires_at=before - timedelta(seconds=1))
        )
    # Reads already ignore a lapsed override ...
    assert effective(await api.ok("GET", f"/sites/{site['id']}")) == (63, 63, 63)
    # ... and the expiry job clears it and tells the load manager.
    with api.bus.subscribe("config.changed") as events:
        assert await expire_overrides(api.db, api.bus) == 1
        event = events.get_nowait()
    assert event is not None and event.payload["site_id"] == site["id"]
    assert (await api.ok("GET", f"/sites/{site['id']}"))["available_current_expires_at"] is None


async def test_ttl_without_an_override_is_422(api: Api) -> None:
    site = await api.site()
    response = await api.call("PATCH", f"/sites/{site['id']}", {"available_current_ttl_s": 60})
    assert_problem(response, 422, "available_current_ttl_s")


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 403), ("viewer", 403), ("service", 200), ("admin", 200)]
)
async def test_max_current_needs_service_or_admin(api: Api, role: str, status: int) -> None:
    site = await api.site(max_current=63)
    response = await api.call("PATCH", f"/sites/{site['id']}", {"max_current": 80}, role=role)
    assert response.status_code == status, response.text
    expected = 80 if status == 200 else 63
    assert (await api.ok("GET", f"/sites/{site['id']}"))["max_current"] == expected
    if status == 403:
        assert_problem(response, 403)


async def test_owner_may_set_available_current_and_offline_settings(api: Api) -> None:
    site = await api.site(max_current=63)
    out = await api.ok(
        "PATCH",
        f"/sites/{site['id']}",
        {
            "available_current": 25,
            "offline_limit_to_min_current": True,
            "three_to_one_phase_switch_current": 8,
        },
        role="owner",
    )
    assert effective(out) == (25, 25, 25)
    assert out["offline_limit_to_min_current"] is True
    assert out["three_to_one_phase_switch_current"] == 8
    out = await api.ok("PATCH", f"/sites/{site['id']}", {"three_to_one_phase_switch_current": None})
    assert out["three_to_one_phase_switch_current"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"offline_limit_to_min_current": "yes"}, "offline_limit_to_min_current"),
        ({"max_current": "63"}, "max_current"),
        ({"max_current": -5}, "max_current"),
        ({"network_type": "XX"}, "network_type"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"three_to_one_phase_switch_current": 2}, "three_to_one_phase_switch_current"),
        ({"available_current": "lots"}, "available_current"),
        ({"name": None}, "name"),
        ({"max_current": None}, "max_current"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_values_are_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    site = await api.site()
    assert_problem(await api.call("PATCH", f"/sites/{site['id']}", body), 422, field)


async def test_lowering_the_main_fuse_below_a_circuit_is_422(api: Api) -> None:
    site = await api.site(max_current=63)
    await api.circuit(site["id"], max_current=40)
    assert_problem(
        await api.call("PATCH", f"/sites/{site['id']}", {"max_current": 32}), 422, "max_current"
    )


async def test_changes_publish_config_changed_with_the_site(api: Api) -> None:
    site = await api.site()
    with api.bus.subscribe("config.changed") as events:
        await api.ok("PATCH", f"/sites/{site['id']}", {"available_current": 12})
        event = events.get_nowait()
        assert events.get_nowait() is None
    assert event is not None
    assert event.payload["kind"] == "site" and event.payload["site_id"] == site["id"]
    assert "available_current" in event.payload["fields"]


async def test_a_patch_that_changes_nothing_publishes_nothing(api: Api) -> None:
    site = await api.site(name="Same")
    with api.bus.subscribe("config.changed") as events:
        await api.ok("PATCH", f"/sites/{site['id']}", {"name": "Same"})
        assert events.get_nowait() is None


async def test_delete_site(api: Api) -> None:
    site = await api.site()
    await api.circuit(site["id"])
    assert (await api.call("DELETE", f"/sites/{site['id']}")).status_code == 204
    assert_problem(await api.call("GET", f"/sites/{site['id']}"), 404)
