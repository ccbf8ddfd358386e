"""NotifyChargingLimit as an input to the load manager: the limit an EMS or the grid
operator put on a 2.0.1 station is stored on its EVSE (and announced, so the control loop
re-reads the charger), and ClearedChargingLimit from the same source lifts it."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid.store.charger_store import evses
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.station import booted

pytestmark = pytest.mark.e2e


async def limits(csms: Csms) -> list[tuple[int, float | None, str | None]]:
    rows = await csms.rows(
        select(evses.c.evse_number, evses.c.external_limit_a, evses.c.external_limit_source)
    )
    return sorted((r.evse_number, r.external_limit_a, r.external_limit_source) for r in rows)


async def test_an_external_limit_is_kept_on_the_evse_until_cleared(csms: Csms) -> None:
    changes = []
    async with csms.bus.subscribe("config.changed") as events, booted(csms) as station:
        schedule = {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 11040.0, "number_phases": 3},  # 16 A
                {"start_period": 600, "limit": 5520.0, "number_phases": 3},  # 8 A
            ],
        }
        await station.call(
            call.NotifyChargingLimit(
                charging_limit={"charging_limit_source": "SO", "is_grid_critical": True},
                evse_id=1,
                charging_schedule=[schedule],
            )
        )
        assert await limits(csms) == [(1, pytest.approx(8.0), "SO")]  # the lowest period
        async with asyncio.timeout(5):
            async for event in events:  # the boot sync's config_sync comes first
                if "external_limit_a" in event.payload:
                    changes.append(event.payload)
                    break
        # Another source's clear leaves it; its own source's lifts it.
        await station.call(call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
        assert await limits(csms) == [(1, pytest.approx(8.0), "SO")]
        await station.call(call.ClearedChargingLimit(charging_limit_source="SO", evse_id=1))
        assert await limits(csms) == [(1, None, None)]
    assert changes[0]["external_limit_a"] == pytest.approx(8.0)
    assert changes[0]["evse_number"] == 1
