"""A 2.0.1 station's reported PhaseRotation wires the connectors nobody set, as 1.6's
ConnectorPhaseRotation does, and an operator's wiring stands."""

from __future__ import annotations

import uuid

import pytest
from ocpp.v201 import call
from sqlalchemy import insert, select

from chargegrid.store.charger_store import chargers, connectors, evses
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import booted, now_iso

pytestmark = pytest.mark.e2e


async def wiring(csms: Csms) -> dict[int, tuple[str, str, str]]:
    rows = await csms.rows(
        select(
            connectors.c.connector_id,
            connectors.c.power_type,
            connectors.c.phase_rotation,
            connectors.c.wiring_source,
        )
    )
    return {r.connector_id: (r.power_type, r.phase_rotation, r.wiring_source) for r in rows}


async def test_reported_phase_rotation_wires_what_nobody_set(csms: Csms) -> None:
    async with booted(csms) as station:
        # EVSE 2 was set by an operator (1-phase on T); EVSE 1 was created by its status.
        (charger_id,) = [
            r.id for r in await csms.rows(select(chargers.c.id).where(chargers.c.ocpp_id == "CS1"))
        ]
        evse_pk = uuid.uuid4()
        async with csms.db.engine.begin() as conn:
            await conn.execute(
                insert(evses).values(id=evse_pk, charger_id=charger_id, evse_number=2)
            )
            await conn.execute(
                insert(connectors).values(
                    id=uuid.uuid4(),
                    evse_id=evse_pk,
                    charger_id=charger_id,
                    connector_id=2,
                    power_type="AC_1_PHASE",
                    phase_rotation="T",
                    wiring_source="operator",
                )
            )

        def item(evse: int, value: str) -> dict[str, object]:
            return {
                "component": {"name": "EVSE", "evse": {"id": evse}},
                "variable": {"name": "PhaseRotation"},
                "variable_attribute": [{"value": value, "mutability": "ReadOnly"}],
            }

        await station.call(
            call.NotifyReport(
                request_id=7,
                generated_at=now_iso(),
                seq_no=0,
                report_data=[item(1, "STR"), item(2, "RST")],
            )
        )

        async def learnt() -> bool:
            return (await wiring(csms)).get(1, ("", "", ""))[1] == "STR"

        await eventually(learnt, what="EVSE 1 wired STR as reported")
        found = await wiring(csms)
        assert found[1] == ("AC_3_PHASE", "STR", "charger")
        assert found[2] == ("AC_1_PHASE", "T", "operator")  # the operator's stands
