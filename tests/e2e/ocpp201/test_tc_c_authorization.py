"""OCPP 2.0.1 Part 6 CSMS conformance, block C (Authorization).

Not applicable here: TC_C_50_CSMS, TC_C_51_CSMS, TC_C_52_CSMS (ISO 15118 contract
certificates checked by OCSP: certificate handling is another issue's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chargegrid import events as ev
from chargegrid.services.charger_commands import Native
from chargegrid.store.charger_store import sessions
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.station import Transaction, booted

pytestmark = pytest.mark.e2e

ID_TOKEN_TYPES = ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress"]


async def session_of(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


async def test_tc_c_02_authorize_invalid_or_unknown(csms: Csms) -> None:
    async with booted(csms) as station:
        info = await station.authorize("NOBODY-KNOWS-ME")
        assert info["status"] in ("Invalid", "Unknown")
        assert "group_id_token" not in info


async def test_tc_c_06_authorize_blocked(csms: Csms) -> None:
    await csms.add_id_tag("BLOCKED1", status="Blocked")
    async with booted(csms) as station:
        assert (await station.authorize("BLOCKED1"))["status"] == "Blocked"


async def test_tc_c_07_authorize_expired(csms: Csms) -> None:
    await csms.add_id_tag("OLD1", expires_at=datetime.now(UTC) - timedelta(days=1))
    async with booted(csms) as station:
        assert (await station.authorize("OLD1"))["status"] == "Expired"


@pytest.mark.parametrize("token_type", ID_TOKEN_TYPES)
async def test_tc_c_08_cached_token_accepted_for_each_id_token_type(
    csms: Csms, token_type: str
) -> None:
    await csms.add_id_tag("TOKEN-1")
    async with booted(csms) as station:
        assert (await station.authorize("TOKEN-1", token_type))["status"] == "Accepted"
        # Authorized from the station's cache: the CSMS checks it on the TransactionEvent.
        tx = Transaction(station)
        answer = await tx.start("TOKEN-1", token_type=token_type)
        assert answer.id_token_info["status"] == "Accepted"
        row = await session_of(csms, tx)
        assert (row.id_tag, row.authorization_status) == ("TOKEN-1", "Accepted")


async def test_tc_c_08_no_authorization_token_is_accepted_without_a_tag(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = Transaction(station)
        answer = await tx.start(None, wh=0.0)  # no idToken at all: cable plugged in
        assert answer.id_token_info is None
        answer = await tx.event("Updated", "Authorized", id_token="", token_type="NoAuthorization")
        assert answer.id_token_info == {"status": "Accepted"}
        row = await session_of(csms, tx)
        assert row.id_tag is None and row.authorization_status == "Accepted"


async def test_tc_c_20_cached_token_invalid(csms: Csms) -> None:
    async with booted(csms) as station:
        tx = Transaction(station)
        await tx.event("Started", "EVDetected", charging_state="EVConnected")
        with csms.bus.subscribe("session.*") as events:
            answer = await tx.event("Updated", "Authorized", id_token="STOLEN-1")
            assert answer.id_token_info["status"] in ("Invalid", "Unknown")
            row = await session_of(csms, tx)
            assert row.authorization_status == "Invalid"
            topics = []
            while (event := events.get_nowait()) is not None:
                topics.append(event.topic)
            assert ev.SESSION_STARTED not in topics


async def test_tc_c_37_clear_cache_accepted(csms: Csms) -> None:
    async with booted(csms) as station:
        assert await station.command(csms, Native("ClearCache", {})) == {"status": "Accepted"}
        assert station.received.of("ClearCache") == [{}]


async def test_tc_c_38_clear_cache_rejected(csms: Csms) -> None:
    async with booted(csms) as station:
        station.answers["ClearCache"] = {"status": "Rejected"}
        assert await station.command(csms, Native("ClearCache", {})) == {"status": "Rejected"}


async def _group(csms: Csms, *tags: str, group: str = "GROUP-1", **fields: Any) -> None:
    for tag in tags:
        await csms.add_id_tag(tag, parent_id_tag=group, **fields)


async def test_tc_c_39_authorization_by_group_id(csms: Csms) -> None:
    await _group(csms, "CARD-A", "CARD-B")
    async with booted(csms) as station:
        info = await station.authorize("CARD-B")
        assert info["status"] == "Accepted"
        assert info["group_id_token"]["id_token"] == "GROUP-1"
        tx = Transaction(station)
        started = await tx.start("CARD-A")
        assert started.id_token_info["group_id_token"]["id_token"] == "GROUP-1"
        # CARD-B, of the same group, stops CARD-A's transaction.
        info = await station.authorize("CARD-B")
        assert (info["status"], info["group_id_token"]["id_token"]) == ("Accepted", "GROUP-1")
        stop = await tx.event("Updated", "StopAuthorized", id_token="CARD-B")
        assert stop.id_token_info["status"] == "Accepted"
        assert stop.id_token_info["group_id_token"]["id_token"] == "GROUP-1"
        await tx.end("Local", trigger_reason="EVCommunicationLost")
        row = await session_of(csms, tx)
        assert row.stopped_at is not None and row.stop_reason == "Local"
        assert row.id_tag == "CARD-A"  # whose transaction it was


async def test_tc_c_40_group_id_with_local_authorization_list(csms: Csms) -> None:
    await _group(csms, "CARD-A", "CARD-B")
    async with booted(csms) as station:
        tx = Transaction(station)
        started = await tx.start("CARD-A")
        assert started.id_token_info["status"] == "Accepted"
        assert started.id_token_info["group_id_token"] == {"id_token": "GROUP-1", "type": "Central"}
        stop = await tx.event("Updated", "StopAuthorized", id_token="CARD-B")
        assert stop.id_token_info["status"] == "Accepted"
        assert stop.id_token_info["group_id_token"]["id_token"] == "GROUP-1"
        ended = await tx.end("Local", trigger_reason="EVCommunicationLost")
        assert ended.id_token_info is None
        row = await session_of(csms, tx)
        assert (row.id_tag, row.authorization_status) == ("CARD-A", "Accepted")


async def test_tc_c_43_group_id_with_local_list_stop_by_other_card(csms: Csms) -> None:
    await _group(csms, "CARD-A", "CARD-B")
    async with booted(csms) as station:
        tx = Transaction(station)
        started = await tx.start("CARD-A")
        assert started.id_token_info["group_id_token"]["id_token"] == "GROUP-1"
        info = await station.authorize("CARD-B")
        assert (info["status"], info["group_id_token"]["id_token"]) == ("Accepted", "GROUP-1")
        stop = await tx.event("Updated", "StopAuthorized", id_token="CARD-B")
        assert stop.id_token_info["status"] == "Accepted"
        await tx.end("Local", trigger_reason="EVCommunicationLost")
        row = await session_of(csms, tx)
        assert row.stopped_at is not None and row.id_tag == "CARD-A"


async def _master_pass(csms: Csms, *, with_ui: bool, specific: bool = False) -> None:
    await csms.add_id_tag("CARD-1")
    await csms.add_id_tag("CARD-2")
    await csms.add_id_tag("MASTER", parent_id_tag="MASTERPASS-GROUP")
    async with booted(csms) as station:
        one, two = Transaction(station, evse_id=1), Transaction(station, evse_id=2)
        await one.start("CARD-1")
        await two.start("CARD-2")
        info = await station.authorize("MASTER")
        assert info["status"] == "Accepted"
        assert info["group_id_token"]["id_token"] == "MASTERPASS-GROUP"
        stopped = [one] if specific else [one, two]
        for tx, own in zip(stopped, ["CARD-1", "CARD-2"], strict=False):
            answer = await tx.end(
                "MasterPass", trigger_reason="StopAuthorized", id_token="MASTER" if with_ui else own
            )
            assert answer.id_token_info["status"] == "Accepted"
        for tx, own in ((one, "CARD-1"), (two, "CARD-2")):
            row = await session_of(csms, tx)
            assert row.id_tag == own
            if tx in stopped:
                assert (row.stop_reason, row.stopped_at is not None) == ("MasterPass", True)
            else:
                assert row.stopped_at is None


async def test_tc_c_47_master_pass_with_ui_all_transactions(csms: Csms) -> None:
    await _master_pass(csms, with_ui=True)


async def test_tc_c_48_master_pass_with_ui_specific_transaction(csms: Csms) -> None:
    await _master_pass(csms, with_ui=True, specific=True)


async def test_tc_c_49_master_pass_without_ui(csms: Csms) -> None:
    await _master_pass(csms, with_ui=False)
