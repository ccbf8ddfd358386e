"""Over real sockets with the ``ocpp`` library's ChargePoint: connectors the server first
hears of learn their wiring from the charger's ConnectorPhaseRotation; an operator's
stays as set (docs/ocpp.md "After each boot")."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from ocpp.v16 import call
from sqlalchemy import insert, select

from chargegrid.store.charger_store import connectors, evses
from tests.e2e.conftest import Csms, eventually
from tests.e2e.test_ocpp_library_client import connect

pytestmark = pytest.mark.e2e


async def test_an_unknown_connector_learns_its_wiring_and_an_operators_stays(
    csms_on_each_db: Csms, caplog: pytest.LogCaptureFixture
) -> None:
    csms = csms_on_each_db
    await csms.add_charger("WIRE-1")
    charger_id = (await csms.charger_row("WIRE-1")).id
    async with csms.db.engine.begin() as conn:  # connector 2 as an operator set it
        evse_pk = uuid.uuid4()
        await conn.execute(insert(evses).values(id=evse_pk, charger_id=charger_id, evse_number=2))
        await conn.execute(
            insert(connectors).values(
                id=uuid.uuid4(),
                evse_id=evse_pk,
                charger_id=charger_id,
                connector_id=2,
                power_type="AC_3_PHASE",
                phase_rotation="STR",
                wiring_source="operator",
            )
        )

    async def wiring() -> dict[int, tuple[str, str, str]]:
        rows = await csms.rows(
            select(
                connectors.c.connector_id,
                connectors.c.power_type,
                connectors.c.phase_rotation,
                connectors.c.wiring_source,
            ).where(connectors.c.charger_id == charger_id)
        )
        return {r.connector_id: (r.power_type, r.phase_rotation, r.wiring_source) for r in rows}

    cp, ws, task = await connect(csms, "WIRE-1")
    # A 1-phase connector on S; connector 2 reported 1-phase too (an installer's mismatch
    # with the operator's 3 phases); the rest 3-phase straight through.
    cp.config["ConnectorPhaseRotation"] = "0.RST,1.S,2.T"
    try:
        boot = await cp.call(
            call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox 7")
        )
        assert boot.status == "Accepted"
        for n in (1, 2):  # the first statuses race the post-boot exchange, as in the field
            await cp.call(
                call.StatusNotification(connector_id=n, error_code="NoError", status="Available")
            )

        async def learnt() -> bool:
            return (await wiring()).get(1) == ("AC_1_PHASE", "S", "charger")

        await eventually(learnt, what="connector 1 to learn its wiring")
        assert (await csms.charger_row("WIRE-1")).config_sync == "applied"
        # A connector first heard of after the configuration: created with it at once.
        await cp.call(
            call.StatusNotification(connector_id=3, error_code="NoError", status="Available")
        )
        assert await wiring() == {
            1: ("AC_1_PHASE", "S", "charger"),
            2: ("AC_3_PHASE", "STR", "operator"),
            3: ("AC_3_PHASE", "RST", "charger"),
        }
        warnings: list[Any] = [
            r for r in caplog.records if r.levelname == "WARNING" and "WIRE-1" in r.getMessage()
        ]
        assert len(warnings) == 1 and "connector 2 as T" in warnings[0].getMessage()
    finally:
        await ws.close()
        task.cancel()
