"""OCPP 2.0.1 Part 6 CSMS conformance, block P (DataTransfer)."""

from __future__ import annotations

import pytest
from ocpp.v201 import call

from chargegrid import events as ev
from chargegrid.services.charger_commands import DataTransfer
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.notices import notices
from tests.e2e.ocpp201.station import Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

CUSTOM = {"vendor_id": "com.example.wallbox", "note": "anything a vendor adds"}


async def test_tc_p_01_data_transfer_to_the_station(csms: Csms) -> None:
    async with booted(csms) as station:
        station.answers["DataTransfer"] = {"status": "Accepted", "data": {"answer": 42}}
        told = await station.command(csms, DataTransfer("com.example", "ping", {"n": 1}))
        assert told == {"status": "Accepted", "data": {"answer": 42}}
        (sent,) = station.received.of("DataTransfer")
        assert sent == {"vendor_id": "com.example", "message_id": "ping", "data": {"n": 1}}


async def test_tc_p_02_data_transfer_to_the_csms_unknown_vendor(csms: Csms) -> None:
    async with booted(csms) as station:
        with csms.bus.subscribe(ev.CHARGER_DATA_TRANSFER) as sub:
            answer = await station.call(
                call.DataTransfer(vendor_id="com.unknown", message_id="hello", data="x")
            )
            published = await sub.get()
        assert answer.status in ("Rejected", "UnknownVendorId", "UnknownMessageId")
        assert published.payload["payload"] == {
            "vendorId": "com.unknown",
            "messageId": "hello",
            "data": "x",
        }
        (stored,) = await notices(csms, "DataTransfer")
        assert stored["vendorId"] == "com.unknown"


async def test_tc_p_03_custom_data_is_accepted(csms: Csms) -> None:
    await csms.add_id_tag("TAG-P")
    async with booted(csms) as station:
        answer = await station.call(
            call.StatusNotification(
                timestamp=now_iso(),
                connector_status="Occupied",
                evse_id=1,
                connector_id=1,
                custom_data=CUSTOM,
            )
        )
        assert answer is not None
        tx = Transaction(station)
        started = await tx.start("TAG-P", custom_data=CUSTOM)
        assert started.id_token_info["status"] == "Accepted"
        heartbeat = await station.call(call.Heartbeat(custom_data=CUSTOM))
        assert heartbeat.current_time
