"""The 2.0.1 path end to end with an independent station: boot, status, a transaction."""

from __future__ import annotations

import uuid

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import charger_variables, transaction_events
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import close, connect, now_iso

pytestmark = pytest.mark.e2e


async def test_a_201_station_boots_charges_and_stops(csms: Csms) -> None:
    await csms.add_charger("CS201")
    await csms.add_id_tag("TAG201")
    station, ws, task = await connect(csms, "CS201")
    try:
        assert ws.subprotocol == "ocpp2.0.1"
        boot = await station.call(
            call.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        # The post-boot exchange: read and set variables, then ask for the device model.
        await station.wait_for("GetBaseReport")
        sets = station.received.of("SetVariables")[0]["set_variable_data"]
        assert {(s["variable"]["name"], s["attribute_value"]) for s in sets} >= {
            ("TxUpdatedInterval", "10")
        }
        await station.call(
            call.StatusNotification(
                timestamp=now_iso(), connector_status="Occupied", evse_id=1, connector_id=1
            )
        )
        tx = str(uuid.uuid4())
        started = call.TransactionEvent(
            event_type="Started",
            timestamp=now_iso(),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": tx, "charging_state": "Charging"},
            id_token={"id_token": "TAG201", "type": "ISO14443"},
            evse={"id": 1, "connector_id": 1},
            meter_value=[
                {
                    "timestamp": now_iso(),
                    "sampled_value": [
                        {"value": 1000.0, "context": "Transaction.Begin"},
                    ],
                }
            ],
        )
        answer = await station.call(started)
        assert answer.id_token_info["status"] == "Accepted"
        # The same event again (a replay after a reconnect): the same answer, one row.
        again = await station.call(started)
        assert again.id_token_info["status"] == "Accepted"
        await station.call(
            call.TransactionEvent(
                event_type="Updated",
                timestamp=now_iso(),
                trigger_reason="MeterValuePeriodic",
                seq_no=1,
                transaction_info={"transaction_id": tx, "charging_state": "Charging"},
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampled_value": [
                            {"value": 1.5, "unit_of_measure": {"unit": "kWh"}},
                            {"value": 16.0, "measurand": "Current.Import", "phase": "L1"},
                            {"value": 42.0, "measurand": "SoC"},
                        ],
                    }
                ],
            )
        )
        (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx))
        assert row.energy_wh == pytest.approx(500.0) and row.soc == 42.0
        assert row.id_tag == "TAG201" and row.stopped_at is None
        await station.call(
            call.TransactionEvent(
                event_type="Ended",
                timestamp=now_iso(),
                trigger_reason="StopAuthorized",
                seq_no=2,
                transaction_info={"transaction_id": tx, "stopped_reason": "Local"},
                meter_value=[
                    {
                        "timestamp": now_iso(),
                        "sampled_value": [{"value": 2500.0, "context": "Transaction.End"}],
                    }
                ],
            )
        )
        (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx))
        assert row.stopped_at is not None and row.energy_wh == pytest.approx(1500.0)
        events = await csms.rows(select(transaction_events.c.seq_no))
        assert sorted(e.seq_no for e in events) == [0, 1, 2]

        async def variables_stored() -> bool:
            return bool(await csms.rows(select(charger_variables)))

        await eventually(variables_stored, what="device model rows")
        charger = await csms.charger_row("CS201")
        assert charger.ocpp_version == "2.0.1" and charger.last_boot_reason == "PowerUp"
        assert charger.phase_switching is True and charger.max_stack_level == 8
    finally:
        await close(ws, task)
