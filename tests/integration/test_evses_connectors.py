"""EVSEs and connectors (seeds 002, 003, 004): both connector routes, OCPI vocabularies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from chargegrid.services.charger_ports import ConfigWrite, StatusWrite
from chargegrid.store.charger_store import SqlChargerStore
from chargegrid.store.models import Charger, Connector
from tests.integration.conftest import Api, assert_problem


@pytest.fixture
async def charger(api: Api) -> dict[str, Any]:
    site = await api.site()
    charger = await api.charger(site["id"])
    await api.ok(
        "POST",
        f"/chargers/{charger['id']}/evses",
        {
            "evse_number": 1,
            "evse_id": "DK*123*E1",
            "connectors": [
                {"connector_id": 1, "power_type": "AC_3_PHASE", "phase_rotation": "STR"},
            ],
        },
    )
    await api.ok(
        "POST",
        f"/chargers/{charger['id']}/evses",
        {"evse_number": 2, "connectors": [{"connector_id": 2, "power_type": "AC_1_PHASE"}]},
    )
    result: dict[str, Any] = await api.ok("GET", f"/chargers/{charger['id']}")
    return result


def evse_of(charger: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in charger["evses"] if e["evse_number"] == number)
    return found


async def test_evses_and_connectors_are_listed(api: Api, charger: dict[str, Any]) -> None:
    listed = await api.ok("GET", f"/chargers/{charger['id']}/evses")
    assert listed["next_cursor"] is None
    evses = listed["data"]
    assert [e["evse_number"] for e in evses] == [1, 2]
    assert evses[0]["evse_id"] == "DK*123*E1" and evses[0]["enabled"] is True
    listed = await api.ok("GET", f"/evses/{evses[1]['id']}/connectors")
    assert listed["next_cursor"] is None
    connectors = listed["data"]
    assert [c["connector_id"] for c in connectors] == [2]
    assert connectors[0]["power_type"] == "AC_1_PHASE"
    assert connectors[0]["phase_rotation"] == "R"  # straight-through default for 1 phase
    assert connectors[0]["created_at"] and connectors[0]["updated_at"]


async def walk(api: Api, path: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list by following next_cursor; the items and the pages it took."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", path, params=params)
        pages += 1
        assert len(page["data"]) <= limit
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


async def test_evses_page_by_evse_number(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    # Created out of order: the list follows evse_number, not creation time.
    numbers = [5, 2, 4, 1, 3]
    for n in numbers:
        await api.evse(charger["id"], evse_number=n, connectors=[{"connector_id": n}])
    evses, pages = await walk(api, f"/chargers/{charger['id']}/evses", limit=2)
    assert [e["evse_number"] for e in evses] == [1, 2, 3, 4, 5]
    assert pages == 3


async def test_connectors_page_by_connector_id(api: Api) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    connectors = [{"connector_id": n} for n in (3, 1, 2)]
    evse = await api.evse(charger["id"], connectors=connectors)
    listed, pages = await walk(api, f"/evses/{evse['id']}/connectors", limit=1)
    assert [c["connector_id"] for c in listed] == [1, 2, 3]
    assert {c["evse_number"] for c in listed} == {1}
    assert pages == 3


# Not base64; [1, 2]; ["x", "1"]; [9999999999999999999, "1"] (past a 32-bit column).
FOREIGN_CURSORS = [
    "not-base64!",
    "WzEsIDJd",
    "WyJ4IiwgIjEiXQ",
    "Wzk5OTk5OTk5OTk5OTk5OTk5OTksICIxIl0",
]


@pytest.mark.parametrize("cursor", FOREIGN_CURSORS)
async def test_sub_collection_cursor_not_ours_is_422(
    api: Api, charger: dict[str, Any], cursor: str
) -> None:
    for path in (
        f"/chargers/{charger['id']}/evses",
        f"/evses/{evse_of(charger, 1)['id']}/connectors",
    ):
        response = await api.call("GET", path, params={"cursor": cursor})
        assert_problem(response, 422, "cursor")


async def test_patch_on_evse_route(api: Api, charger: dict[str, Any]) -> None:
    evse = evse_of(charger, 2)
    body = {
        "standard": "CHADEMO",
        "format": "CABLE",
        "max_electric_power": 22000,
        "max_amperage": 32,
        "max_voltage": 400,
        "phase_rotation": "T",
    }
    out = await api.ok("PATCH", f"/evses/{evse['id']}/connectors/2", body)
    for key, value in body.items():
        assert out[key] == value, key
    assert out["updated_at"] >= out["created_at"]


async def test_put_on_charger_route(api: Api, charger: dict[str, Any]) -> None:
    out = await api.ok(
        "PUT",
        f"/chargers/{charger['id']}/connectors/1",
        {"phase_rotation": "TSR", "max_amperage": 16},
    )
    assert out["phase_rotation"] == "TSR" and out["max_amperage"] == 16
    assert out["connector_id"] == 1 and out["evse_number"] == 1
    evse = await api.ok("GET", f"/evses/{evse_of(charger, 1)['id']}")
    assert evse["connectors"][0]["phase_rotation"] == "TSR"


async def test_updated_at_moves_created_at_stays(api: Api, charger: dict[str, Any]) -> None:
    before = evse_of(charger, 1)["connectors"][0]
    out = await api.ok("PUT", f"/chargers/{charger['id']}/connectors/1", {"max_amperage": 20})
    assert out["created_at"] == before["created_at"]
    assert out["updated_at"] > before["updated_at"]


@pytest.mark.parametrize(
    ("connector", "body", "field"),
    [
        (2, {"phase_rotation": "RST"}, "phase_rotation"),  # 1-phase connector
        (1, {"phase_rotation": "S"}, "phase_rotation"),  # 3-phase connector
        (1, {"phase_rotation": "RS"}, "phase_rotation"),
        (1, {"phase_rotation": "ABC"}, "phase_rotation"),
        (1, {"max_amperage": 0}, "max_amperage"),
        (1, {"max_amperage": 1001}, "max_amperage"),
        (1, {"max_amperage": 16.5}, "max_amperage"),
        (1, {"max_amperage": "16"}, "max_amperage"),
        (1, {"standard": "SCHUKO"}, "standard"),
        (1, {"format": "PLUG"}, "format"),
        (1, {"power_type": "AC_4_PHASE"}, "power_type"),
        (1, {"power_type": "AC_1_PHASE"}, "phase_rotation"),  # STR no longer fits
        (1, {"max_electric_power": -1}, "max_electric_power"),
    ],
)
async def test_invalid_connector_updates_are_422(
    api: Api, charger: dict[str, Any], connector: int, body: dict[str, Any], field: str
) -> None:
    response = await api.call("PUT", f"/chargers/{charger['id']}/connectors/{connector}", body)
    assert_problem(response, 422, field)


@pytest.mark.parametrize(("amps"), [1, 1000])
async def test_max_amperage_bounds_are_inclusive(
    api: Api, charger: dict[str, Any], amps: int
) -> None:
    out = await api.ok("PUT", f"/chargers/{charger['id']}/connectors/1", {"max_amperage": amps})
    assert out["max_amperage"] == amps


@pytest.mark.parametrize(
    ("power_type", "rotation"),
    [("AC_2_PHASE", "TS"), ("AC_2_PHASE_SPLIT", "RS"), ("DC", "RST"), ("AC_1_PHASE", "S")],
)
async def test_power_type_with_a_fitting_rotation(
    api: Api, charger: dict[str, Any], power_type: str, rotation: str
) -> None:
    body = {"power_type": power_type, "phase_rotation": rotation}
    out = await api.ok("PUT", f"/chargers/{charger['id']}/connectors/1", body)
    assert (out["power_type"], out["phase_rotation"]) == (power_type, rotation)


async def test_straight_rotation_follows_a_new_power_type(
    api: Api, charger: dict[str, Any]
) -> None:
    out = await api.ok(
        "PUT", f"/chargers/{charger['id']}/connectors/2", {"power_type": "AC_3_PHASE"}
    )
    assert out["phase_rotation"] == "RST"


async def test_unknown_connector_is_404(api: Api, charger: dict[str, Any]) -> None:
    response = await api.call("PUT", f"/chargers/{charger['id']}/connectors/9", {})
    assert_problem(response, 404)
    # Connector 2 exists on the charger, but not on EVSE 1.
    response = await api.call("PATCH", f"/evses/{evse_of(charger, 1)['id']}/connectors/2", {})
    assert_problem(response, 404)


@pytest.mark.parametrize("evse_id", ["DK.12343*1", "BE*BEC*E041503001", "DE*ABC*E1234"])
async def test_lenient_evse_ids_are_accepted(
    api: Api, charger: dict[str, Any], evse_id: str
) -> None:
    out = await api.ok("PATCH", f"/evses/{evse_of(charger, 2)['id']}", {"evse_id": evse_id})
    assert out["evse_id"] == evse_id


@pytest.mark.parametrize("evse_id", ["X" * 49, "DK 123", "DK*1;2"])
async def test_bad_evse_ids_are_422(api: Api, charger: dict[str, Any], evse_id: str) -> None:
    response = await api.call("PATCH", f"/evses/{evse_of(charger, 2)['id']}", {"evse_id": evse_id})
    assert_problem(response, 422, "evse_id")


async def test_duplicate_numbers_conflict(api: Api, charger: dict[str, Any]) -> None:
    body = {"evse_number": 1}
    assert_problem(await api.call("POST", f"/chargers/{charger['id']}/evses", body), 409)
    body = {"evse_number": 3, "connectors": [{"connector_id": 1}]}
    assert_problem(await api.call("POST", f"/chargers/{charger['id']}/evses", body), 409)
    assert len((await api.ok("GET", f"/chargers/{charger['id']}/evses"))["data"]) == 2


async def test_nested_connector_errors_name_the_path(api: Api, charger: dict[str, Any]) -> None:
    body = {
        "evse_number": 5,
        "connectors": [{"connector_id": 5, "power_type": "AC_1_PHASE", "phase_rotation": "RST"}],
    }
    response = await api.call("POST", f"/chargers/{charger['id']}/evses", body)
    assert_problem(response, 422, "connectors[0].phase_rotation")
    body["connectors"][0]["max_amperage"] = 0  # type: ignore[index]
    response = await api.call("POST", f"/chargers/{charger['id']}/evses", body)
    assert_problem(response, 422, "connectors[0].max_amperage")


@pytest.mark.parametrize(
    ("ocpp_status", "online", "ocpi"),
    [
        ("Available", True, "AVAILABLE"),
        ("Charging", True, "CHARGING"),
        ("Preparing", True, "CHARGING"),
        ("SuspendedEV", True, "BLOCKED"),
        ("SuspendedEVSE", True, "BLOCKED"),
        ("Faulted", True, "OUTOFORDER"),
        ("Unavailable", True, "INOPERATIVE"),
        ("Reserved", True, "RESERVED"),
        ("Charging", False, "UNKNOWN"),
    ],
)
async def test_status_is_the_ocpi_mapping(
    api: Api, charger: dict[str, Any], ocpp_status: str, online: bool, ocpi: str
) -> None:
    async with api.db.session() as session:  # as the OCPP server would record it
        await session.execute(update(Charger).values(online=online))
        await session.execute(update(Connector).values(ocpp_status=ocpp_status))
    evse = await api.ok("GET", f"/evses/{evse_of(charger, 1)['id']}")
    assert evse["connectors"][0]["status"] == ocpi
    assert evse["connectors"][0]["ocpp_status"] == ocpp_status


async def test_disable_evse_publishes_for_the_ocpp_side(api: Api, charger: dict[str, Any]) -> None:
    evse = evse_of(charger, 1)
    with api.bus.subscribe("config.changed") as events:
        out = await api.ok("PATCH", f"/evses/{evse['id']}", {"enabled": False}, role="owner")
        event = events.get_nowait()
    assert out["enabled"] is False
    assert event is not None and event.payload["kind"] == "evse"
    assert event.payload["fields"] == ["enabled"] and event.payload["id"] == evse["id"]


async def test_connector_wiring_needs_service(api: Api, charger: dict[str, Any]) -> None:
    path = f"/chargers/{charger['id']}/connectors/1"
    assert_problem(await api.call("PUT", path, {"phase_rotation": "RST"}, role="owner"), 403)


async def test_unknown_evse_is_404(api: Api) -> None:
    assert_problem(await api.call("GET", f"/evses/{uuid.uuid4()}"), 404)


async def test_wiring_is_learnt_from_the_charger_until_an_operator_sets_it(
    api: Api, charger: dict[str, Any]
) -> None:
    """``wiring_source``: connectors made through the API are the operator's; those the
    charger reported first are learnt from its ConnectorPhaseRotation until an operator
    sets their power type or rotation (docs/ocpp.md "After each boot")."""
    made = [c for e in charger["evses"] for c in e["connectors"]]
    assert [c["wiring_source"] for c in made] == ["operator", "operator"]

    learner = await api.charger((await api.site())["id"])
    charger_id = uuid.UUID(learner["id"])
    store = SqlChargerStore(api.db.engine)

    async def wiring() -> dict[int, tuple[str, str, str]]:
        out = await api.ok("GET", f"/chargers/{charger_id}")
        return {
            c["connector_id"]: (c["power_type"], c["phase_rotation"], c["wiring_source"])
            for e in out["evses"]
            for c in e["connectors"]
        }

    try:
        at = datetime.now(UTC)
        await store.apply(
            [StatusWrite(charger_id, n, "Available", None, None, None, None, at) for n in (1, 2, 3)]
        )
        assert await wiring() == {n: ("AC_3_PHASE", "RST", "default") for n in (1, 2, 3)}
        await store.apply([ConfigWrite(charger_id, connector_phase_rotation="0.S")])
        assert await wiring() == {n: ("AC_1_PHASE", "S", "charger") for n in (1, 2, 3)}

        path = f"/chargers/{charger_id}/connectors"
        await api.ok("PUT", f"{path}/1", {"max_amperage": 16})  # not its wiring
        await api.ok("PUT", f"{path}/2", {"phase_rotation": "S"})  # the same, but said
        evse_3 = evse_of(await api.ok("GET", f"/chargers/{charger_id}"), 3)["id"]
        await api.ok(
            "PATCH",
            f"/evses/{evse_3}/connectors/3",
            {"power_type": "AC_3_PHASE", "phase_rotation": "TSR"},
        )
        assert await wiring() == {
            1: ("AC_1_PHASE", "S", "charger"),
            2: ("AC_1_PHASE", "S", "operator"),
            3: ("AC_3_PHASE", "TSR", "operator"),
        }
        await store.apply([ConfigWrite(charger_id, connector_phase_rotation="0.T")])
        assert await wiring() == {
            1: ("AC_1_PHASE", "T", "charger"),
            2: ("AC_1_PHASE", "S", "operator"),
            3: ("AC_3_PHASE", "TSR", "operator"),
        }
    finally:
        await store.close()
