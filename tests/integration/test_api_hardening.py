"""Issue 13, part 2 ("Smaller ones"): what a fuzzer found the REST API doing wrong.

Each test names the finding it pins; all run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import Api, assert_problem

NO_REFILL = 0.001


# -- 3. ocpp_id is a URL path segment ------------------------------------------------------


@pytest.mark.parametrize("ocpp_id", ["..", ".", "a/b", "../x", "CP1\n", "%2e%2e"])
async def test_ocpp_ids_that_are_not_one_path_segment_are_422(api: Api, ocpp_id: str) -> None:
    site = await api.site()
    response = await api.call("POST", "/chargers", {"ocpp_id": ocpp_id, "site_id": site["id"]})
    assert_problem(response, 422, "ocpp_id")
    charger = await api.charger(site["id"])
    response = await api.call("PATCH", f"/chargers/{charger['id']}", {"ocpp_id": ocpp_id})
    assert_problem(response, 422, "ocpp_id")


async def test_ocpp_ids_with_dots_inside_are_fine(api: Api) -> None:
    site = await api.site()
    for ocpp_id in ("DK.12343*1", "...", ".hidden", "a..b"):
        assert (await api.charger(site["id"], ocpp_id=ocpp_id))["ocpp_id"] == ocpp_id
