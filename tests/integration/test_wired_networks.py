"""Networks as they are wired through the API (issue 16): a transformer circuit, phasor
lines, a connector between two lines, a charger's allowed currents; each refused with
problem+json naming the field where it cannot be."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Api, assert_problem


@pytest.fixture
async def site(api: Api) -> dict[str, Any]:
    return await api.site(max_current=60)


async def test_a_transformer_circuit_is_rated_on_its_primary(
    api: Api, site: dict[str, Any]
) -> None:
    body = {"name": "TX", "max_current": 400, "transformer_ratio": 4, "phasor_lines": True}
    # Ratio without its primary rating: named.
    response = await api.call("POST", f"/sites/{site['id']}/circuits", body)
    assert_problem(response, 422, "transformer_primary_current")
    # 400 A secondary under a 60 A main fuse is fine: the primary (50 A) is what it draws.
    tx = await api.circuit(site["id"], **body, transformer_primary_current=50)
    assert tx["transformer_ratio"] == 4 and tx["transformer_primary_current"] == 50
    assert tx["phasor_lines"] is True
    response = await api.call("PATCH", f"/circuits/{tx['id']}", {"transformer_primary_current": 61})
    assert_problem(response, 422, "transformer_primary_current")
    # One transformer deep: not below another.
    below = {"name": "TX2", "max_current": 100, "parent_id": tx["id"]}
    response = await api.call(
        "POST",
        f"/sites/{site['id']}/circuits",
        below | {"transformer_ratio": 2, "transformer_primary_current": 50},
    )
    assert_problem(response, 422, "transformer_ratio")
    plain = await api.circuit(site["id"], name="Plain", max_current=32)
    assert plain["transformer_ratio"] is None and plain["phasor_lines"] is False


async def test_a_connector_between_two_lines(api: Api, site: dict[str, Any]) -> None:
    charger = await api.charger(site["id"])
    connector = {
        "connector_id": 1,
        "power_type": "AC_2_PHASE",
        "phase_rotation": "ST",
        "line_to_line": True,
    }
    evse = await api.evse(charger["id"], connectors=[connector])
    out = await api.ok("GET", f"/evses/{evse['id']}/connectors")
    assert out["data"][0]["line_to_line"] is True
    response = await api.call(
        "PATCH",
        f"/evses/{evse['id']}/connectors/1",
        {"power_type": "AC_1_PHASE", "phase_rotation": "S"},
    )
    assert_problem(response, 422, "line_to_line")


async def test_allowed_currents_of_a_charger(api: Api, site: dict[str, Any]) -> None:
    charger = await api.charger(site["id"], allowed_currents=[32, 0, 16, 8, 24, 16])
    assert charger["allowed_currents"] == [0, 8, 16, 24, 32]
    assert charger["current_step"] is None
    path = f"/chargers/{charger['id']}"
    response = await api.call("PATCH", path, {"current_step": 1})
    assert_problem(response, 422, "current_step")
    changed = await api.ok("PATCH", path, {"allowed_currents": None, "current_step": 1})
    assert changed["allowed_currents"] is None and changed["current_step"] == 1
    response = await api.call("PATCH", path, {"allowed_currents": [8, 40]})
    assert_problem(response, 422)
