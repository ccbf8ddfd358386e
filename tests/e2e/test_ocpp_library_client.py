"""An independent charger built on the ``ocpp`` package's ChargePoint, over real sockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call
from sqlalchemy import select

from chargegrid.domain.errors import Conflict
from chargegrid.store.charger_store import connectors, sessions
from chargegrid.store.meter_messages import decode_samples
from chargegrid.store.ocpp_tables import charger_notices, meter_messages
from tests.e2e.conftest import Csms, eventually

pytestmark = pytest.mark.e2e


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


class LibraryCharger(ChargePoint):  # type: ignore[misc]
    """Answers the central system's post-boot exchange like a simple wallbox."""

    config: dict[str, str]

    @on("GetConfiguration")  # type: ignore[misc]
    def on_get_configuration(self, **_: Any) -> Any:
        from ocpp.v16 import call_result

        keys = [{"key": k, "readonly": False, "value": v} for k, v in self.config.items()]
        return call_result.GetConfiguration(configuration_key=keys)

    @on("ChangeConfiguration")  # type: ignore[misc]
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        from ocpp.v16 import call_result

        self.config[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on("RemoteStartTransaction")  # type: ignore[misc]
    def on_remote_start(self, id_tag: str, **_: Any) -> Any:
        from ocpp.v16 import call_result

        return call_result.RemoteStartTransaction(status="Accepted")


async def connect(csms: Csms, ocpp_id: str, **kwargs: Any) -> tuple[LibraryCharger, Any, Any]:
    ws = await websockets.connect(csms.url(ocpp_id), subprotocols=["ocpp1.6"], **kwargs)
    cp = LibraryCharger(ocpp_id, ws)
    cp.config = {
        "ConnectorPhaseRotation": "0.RST,1.STR",
        "ChargeProfileMaxStackLevel": "8",
        "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
        "MeterValueSampleInterval": "900",
    }
    task = asyncio.create_task(cp.start())
    return cp, ws, task


async def test_full_charging_cycle_is_stored(csms_on_each_db: Csms) -> None:
    csms = csms_on_each_db
    await csms.add_charger("LIB-1", meter_value_interval=10)
    await csms.add_id_tag("TAG-OK")
    cp, ws, task = await connect(csms, "LIB-1")
    try:
        boot = await cp.call(
            call.BootNotification(
                charge_point_vendor="Acme",
                charge_point_model="Wallbox 22",
                charge_point_serial_number="SN-9",
                firmware_version="1.2.3",
            )
        )
        assert boot.status == "Accepted"

        async def synced() -> bool:
            row = await csms.charger_row("LIB-1")
            return bool(row.config_sync == "applied")

        await eventually(synced, what="post-boot configuration sync")
        row = await csms.charger_row("LIB-1")
        assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
            "Acme",
            "Wallbox 22",
            "SN-9",
            "1.2.3",
        )
        assert row.online is True
        assert row.connector_phase_rotation == "0.RST,1.STR"
        assert row.max_stack_level == 8
        assert row.charging_rate_units == ["Current", "Power"]
        assert cp.config["MeterValueSampleInterval"] == "10"
        assert "Current.Import" in cp.config["MeterValuesSampledData"]

        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
        conn_rows = await csms.rows(select(connectors.c.connector_id, connectors.c.ocpp_status))
        assert [(r.connector_id, r.ocpp_status) for r in conn_rows] == [(1, "Preparing")]

        auth = await cp.call(call.Authorize(id_tag="TAG-OK"))
        assert auth.id_tag_info["status"] == "Accepted"
        started_at = now_iso(timedelta(minutes=-5))  # buffered offline: its own timestamp
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=started_at
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx = start.transaction_id
        # The same StartTransaction again (a retry after a reconnect): same answer.
        again = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=started_at
            )
        )
        assert again.transaction_id == tx

        sampled = [
            {"value": v, "measurand": "Current.Import", "phase": ph, "unit": "A"}
            for ph, v in (("L1", "15.9"), ("L2", "16.1"), ("L3", "0.2"))
        ] + [
            {"value": "11.0", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "42", "measurand": "SoC", "unit": "Percent"},
        ]
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[{"timestamp": now_iso(), "sampled_value": sampled}],
            )
        )
        stop = await cp.call(
            call.StopTransaction(
                meter_stop=3500,
                timestamp=now_iso(),
                transaction_id=tx,
                id_tag="TAG-OK",
                reason="EVDisconnected",
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"
        stop_again = await cp.call(
            call.StopTransaction(
                meter_stop=3500, timestamp=now_iso(), transaction_id=tx, reason="EVDisconnected"
            )
        )
        assert stop_again is not None

        await cp.call(call.FirmwareStatusNotification(status="Installed"))
        transfer = await cp.call(call.DataTransfer(vendor_id="com.acme", data="hello"))
        assert transfer.status == "UnknownVendorId"
        notices = await csms.rows(select(charger_notices.c.action, charger_notices.c.payload))
        assert sorted(
            (n.action, n.payload.get("status") or n.payload.get("data")) for n in notices
        ) == [
            ("DataTransfer", "hello"),
            ("FirmwareStatusNotification", "Installed"),
        ]

        (session,) = await csms.rows(select(sessions))
        assert session.transaction_id == tx
        assert session.energy_wh == 2500
        assert session.soc == 42
        assert session.started_at == datetime.fromisoformat(started_at)
        assert session.stop_reason == "EVDisconnected"

        # Committed before the answer: readable at once, one row for the message.
        rows = await csms.rows(
            select(meter_messages.c.samples).where(meter_messages.c.session_id == session.id)
        )
        samples = [s for row in rows for s in decode_samples(row.samples)]
        assert len(rows) == 1
        assert len(samples) == len(sampled)
        by_key = {(s.measurand, s.phase): s.value for s in samples}
        assert by_key[("Current.Import", "L2")] == pytest.approx(16.1)
        assert by_key[("Power.Active.Import", None)] == 11000.0  # kW stored as W
    finally:
        await ws.close()
        task.cancel()

    async def offline() -> bool:
        return not (await csms.charger_row("LIB-1")).online

    await eventually(offline, what="charger marked offline")


async def test_unknown_charger_is_refused_at_handshake(csms: Csms) -> None:
    with pytest.raises(websockets.InvalidStatus) as err:
        await websockets.connect(csms.url("NOBODY"), subprotocols=["ocpp1.6"])
    assert err.value.response.status_code == 404


async def test_basic_auth_is_checked(csms: Csms) -> None:
    await csms.add_charger("LOCKED", password="s3cret-pass")
    url = csms.url("LOCKED")
    for attempt in (url, url.replace("ws://", "ws://LOCKED:wrong@")):
        with pytest.raises(websockets.InvalidStatus) as err:
            await websockets.connect(attempt, subprotocols=["ocpp1.6"])
        assert err.value.response.status_code == 401
    ws = await websockets.connect(
        url.replace("ws://", "ws://LOCKED:s3cret-pass@"), subprotocols=["ocpp1.6"]
    )
    cp = LibraryCharger("LOCKED", ws)
    cp.config = {}
    task = asyncio.create_task(cp.start())
    try:
        beat = await cp.call(call.Heartbeat())
        assert beat.current_time
    finally:
        await ws.close()
        task.cancel()


async def test_second_connection_replaces_the_first(csms: Csms) -> None:
    await csms.add_charger("TWICE")
    first = await websockets.connect(csms.url("TWICE"), subprotocols=["ocpp1.6"])
    cp2, ws2, task2 = await connect(csms, "TWICE")
    try:
        await first.wait_closed()
        assert first.close_reason == "replaced by a new connection"
        beat = await cp2.call(call.Heartbeat())
        assert beat.current_time
        assert (await csms.charger_row("TWICE")).online is True
        answer = await csms.central.gateway.send(
            "TWICE", "RemoteStartTransaction", {"idTag": "X", "connectorId": 1}, 5
        )
        assert answer == {"status": "Accepted"}
    finally:
        await ws2.close()
        task2.cancel()

    async def gone() -> bool:
        return not csms.central.gateway.is_online("TWICE")

    await eventually(gone, what="gateway to forget the charger")
    with pytest.raises(Conflict):
        await csms.central.gateway.send("TWICE", "Reset", {"type": "Soft"}, 1)
