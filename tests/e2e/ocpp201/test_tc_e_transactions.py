"""OCPP 2.0.1 Part 6 CSMS conformance, block E (Transactions).

Every CSMS-side case of the block is here. The TxStartPoint/TxStopPoint variants differ
only in what the station sends (triggerReason, chargingState, stoppedReason): each test
checks what the CSMS answered, stored (sessions, transaction_events) and published.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from chargegrid import events as ev
from chargegrid.bus.memory import Event
from chargegrid.services.charger_commands import Native, RemoteStop
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import transaction_events
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.station import Station, Transaction, booted, close, connect, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-E"


async def session_of(csms: Csms, tx: Transaction) -> Any:
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    return row


async def events_of(csms: Csms, tx: Transaction) -> list[Any]:
    return await csms.rows(
        select(transaction_events)
        .where(transaction_events.c.transaction_id == tx.id)
        .order_by(transaction_events.c.seq_no)
    )


@contextmanager
def published(csms: Csms) -> Iterator[list[Event]]:
    """The session events published inside the block (complete at its end)."""
    seen: list[Event] = []
    with csms.bus.subscribe("session.*") as sub:
        try:
            yield seen
        finally:
            while (event := sub.get_nowait()) is not None:
                seen.append(event)


def topics(seen: list[Event]) -> list[str]:
    return [e.topic for e in seen]


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        yield station


# -- starting -----------------------------------------------------------------------


async def test_tc_e_01_start_on_power_path_closed(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await station.authorize(TAG)
    with published(csms) as seen:
        answer = await tx.start(TAG, charging_state="SuspendedEVSE")
        assert answer.id_token_info["status"] == "Accepted"
        await tx.event("Updated", "ChargingStateChanged", charging_state="Charging")
    assert topics(seen).count(ev.SESSION_STARTED) == 1
    row = await session_of(csms, tx)
    assert (row.charging_state, row.id_tag, row.meter_start) == ("Charging", TAG, 1000.0)


async def test_tc_e_02_start_on_energy_transfer(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    with published(csms) as seen:
        answer = await tx.event(
            "Started",
            "ChargingStateChanged",
            id_token=TAG,
            charging_state="Charging",
            wh=500.0,
            context="Transaction.Begin",
        )
    assert answer.id_token_info["status"] == "Accepted"
    (started,) = [e for e in seen if e.topic == ev.SESSION_STARTED]
    assert started.payload["transaction_id"] == tx.id and started.payload["id_tag"] == TAG
    assert (await session_of(csms, tx)).charging_state == "Charging"


async def test_tc_e_03_local_start_cable_plugin_first(csms: Csms, station: Station) -> None:
    await station.status("Occupied")
    tx = Transaction(station)
    with published(csms) as seen:
        started = await tx.start(None, charging_state="EVConnected")
        assert started.id_token_info is None  # no idToken yet: nothing to answer for
        authorized = await tx.event("Updated", "Authorized", id_token=TAG)
        assert authorized.id_token_info["status"] == "Accepted"
        await tx.event("Updated", "ChargingStateChanged", charging_state="Charging")
    assert ev.SESSION_STARTED in topics(seen)
    row = await session_of(csms, tx)
    assert (row.id_tag, row.charging_state, row.meter_start) == (TAG, "Charging", 1000.0)


async def test_tc_e_04_local_start_authorization_first(csms: Csms, station: Station) -> None:
    assert (await station.authorize(TAG))["status"] == "Accepted"
    tx = Transaction(station)
    started = await tx.start(TAG, charging_state="Idle")
    assert started.id_token_info["status"] == "Accepted"
    await tx.event("Updated", "CablePluggedIn", charging_state="EVConnected")
    await tx.event("Updated", "ChargingStateChanged", charging_state="Charging")
    row = await session_of(csms, tx)
    assert (row.id_tag, row.charging_state, row.stopped_at) == (TAG, "Charging", None)


async def test_tc_e_09_start_on_ev_connected(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event("Started", "CablePluggedIn", charging_state="EVConnected")
    assert answer.id_token_info is None
    row = await session_of(csms, tx)
    assert (row.charging_state, row.evse_number, row.stopped_at) == ("EVConnected", 1, None)


async def test_tc_e_10_start_on_authorized_local(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event("Started", "Authorized", id_token=TAG, evse=True)
    assert answer.id_token_info["status"] == "Accepted"
    assert (await session_of(csms, tx)).id_tag == TAG


async def test_tc_e_11_start_on_data_signed(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    signed = {
        "signed_meter_data": "AAECAwQ=",
        "signing_method": "ECDSA-secp256r1-SHA256",
        "encoding_method": "OCMF",
        "public_key": "BAUG",
    }
    answer = await tx.event(
        "Started",
        "SignedDataReceived",
        id_token=TAG,
        charging_state="Charging",
        meter_value=[
            {
                "timestamp": now_iso(),
                "sampled_value": [
                    {"value": 4000.0, "context": "Transaction.Begin", "signed_meter_value": signed}
                ],
            }
        ],
    )
    assert answer.id_token_info["status"] == "Accepted"
    assert (await session_of(csms, tx)).meter_start == 4000.0


async def test_tc_e_12_start_on_parking_bay_occupied(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.event("Started", "EVDetected", charging_state="Idle")
    answer = await tx.event("Updated", "Authorized", id_token=TAG)
    assert answer.id_token_info["status"] == "Accepted"
    row = await session_of(csms, tx)
    assert (row.charging_state, row.id_tag) == ("Idle", TAG)


async def test_tc_e_38_local_start_ev_not_ready(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG, charging_state="EVConnected")
    await tx.event("Updated", "ChargingStateChanged", charging_state="SuspendedEV")
    row = await session_of(csms, tx)
    assert (row.charging_state, row.stopped_at) == ("SuspendedEV", None)


# -- stopping -----------------------------------------------------------------------


async def _stop_checked(
    csms: Csms, tx: Transaction, reason: str, trigger: str, **kw: Any
) -> list[Event]:
    with published(csms) as seen:
        answer = await tx.end(reason, trigger_reason=trigger, wh=3500.0, **kw)
        assert answer is not None
    row = await session_of(csms, tx)
    assert row.stopped_at is not None and row.stop_reason == reason
    assert (row.meter_stop, row.energy_wh) == (3500.0, pytest.approx(2500.0))
    (stopped,) = [e for e in seen if e.topic == ev.SESSION_STOPPED]
    assert stopped.payload["transaction_id"] == tx.id
    return seen


async def test_tc_e_07_stop_on_power_path_closed_local(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await tx.event("Updated", "StopAuthorized", id_token=TAG, charging_state="EVConnected")
    await _stop_checked(csms, tx, "Local", "EVCommunicationLost")


async def test_tc_e_08_stop_on_energy_transfer_stopped(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await _stop_checked(csms, tx, "Local", "StopAuthorized", id_token=TAG)


async def test_tc_e_14_stop_on_ev_disconnected_station_side(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await _stop_checked(csms, tx, "EVDisconnected", "EVCommunicationLost")


async def test_tc_e_15_stop_authorized_local(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    assert (await station.authorize(TAG))["status"] == "Accepted"
    await _stop_checked(csms, tx, "Local", "StopAuthorized", id_token=TAG)


async def test_tc_e_16_deauthorized_invalid_id_token(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    with published(csms) as seen:
        answer = await tx.start("NOT-A-CARD")
        assert answer.id_token_info["status"] in ("Invalid", "Unknown")
        await tx.end("DeAuthorized", trigger_reason="Deauthorized")
    assert ev.SESSION_STARTED not in topics(seen)
    row = await session_of(csms, tx)
    assert row.authorization_status == "Invalid" and row.stopped_at is not None


async def test_tc_e_17_deauthorized_ev_side_disconnect(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(None, charging_state="EVConnected")
    answer = await tx.event("Updated", "Authorized", id_token="NOT-A-CARD")
    assert answer.id_token_info["status"] in ("Invalid", "Unknown")
    await tx.event("Updated", "EVCommunicationLost", charging_state="Idle")
    await tx.end("DeAuthorized", trigger_reason="Deauthorized")
    row = await session_of(csms, tx)
    assert row.authorization_status == "Invalid" and row.stop_reason == "DeAuthorized"


async def test_tc_e_19_stop_on_parking_bay_unoccupied(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await tx.event("Updated", "EVCommunicationLost", charging_state="Idle")
    await _stop_checked(csms, tx, "EVDisconnected", "EVDeparted")


async def test_tc_e_20_stop_on_ev_disconnected_ev_side(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await _stop_checked(csms, tx, "EVDisconnected", "EVCommunicationLost")


async def test_tc_e_21_stop_authorized_remote(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    answer = await station.command(csms, RemoteStop(tx.id))
    assert answer == {"status": "Accepted"}
    assert station.received.of("RequestStopTransaction") == [{"transaction_id": tx.id}]
    await tx.event("Updated", "RemoteStop", charging_state="EVConnected")
    await _stop_checked(csms, tx, "Remote", "RemoteStop")


async def test_tc_e_22_stop_on_energy_transfer_suspended_ev(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await tx.event("Updated", "ChargingStateChanged", charging_state="SuspendedEV")
    await _stop_checked(csms, tx, "StoppedByEV", "ChargingStateChanged")


async def test_tc_e_26_ev_side_disconnect_suspends(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    with published(csms) as seen:
        await tx.event("Updated", "EVCommunicationLost", charging_state="Idle")
    assert ev.SESSION_STOPPED not in topics(seen)
    row = await session_of(csms, tx)
    assert (row.charging_state, row.stopped_at) == ("Idle", None)
    # The driver comes back, presents the card, and the transaction ends.
    await _stop_checked(csms, tx, "Local", "StopAuthorized", id_token=TAG)


async def test_tc_e_39_deauthorized_ev_connect_timeout(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    answer = await tx.event("Started", "Authorized", id_token=TAG, charging_state="Idle")
    assert answer.id_token_info["status"] == "Accepted"
    await tx.event("Ended", "EVConnectTimeout", stopped_reason="Timeout")
    row = await session_of(csms, tx)
    assert row.stop_reason == "Timeout" and row.stopped_at is not None


# -- GetTransactionStatus, queued events --------------------------------------------


async def _status(
    csms: Csms, station: Station, tx: Transaction | None, *, queued: bool, ongoing: bool | None
) -> dict[str, Any]:
    answer: dict[str, Any] = {"messages_in_queue": queued}
    if ongoing is not None:
        answer["ongoing_indicator"] = ongoing
    station.answers["GetTransactionStatus"] = answer
    payload = {} if tx is None else {"transactionId": tx.id}
    told = dict(await station.command(csms, Native("GetTransactionStatus", payload)))
    (sent,) = station.received.of("GetTransactionStatus")
    assert sent == ({} if tx is None else {"transaction_id": tx.id})
    return told


async def test_tc_e_29_transaction_status_ongoing_with_queue(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    told = await _status(csms, station, tx, queued=True, ongoing=True)
    assert told == {"messagesInQueue": True, "ongoingIndicator": True}
    # The station delivers what it queued while offline.
    await tx.event("Updated", "MeterValuePeriodic", wh=1700.0, offline=True)
    rows = await events_of(csms, tx)
    assert [(r.seq_no, r.offline) for r in rows] == [(0, False), (1, True)]
    assert (await session_of(csms, tx)).energy_wh == pytest.approx(700.0)


async def test_tc_e_30_transaction_status_ongoing_without_queue(
    csms: Csms, station: Station
) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    told = await _status(csms, station, tx, queued=False, ongoing=True)
    assert told == {"messagesInQueue": False, "ongoingIndicator": True}


async def test_tc_e_31_transaction_status_ended_with_queue(csms: Csms) -> None:
    await csms.add_id_tag(TAG)
    await csms.add_charger("CS1")
    station, ws, task = await connect(csms, "CS1")
    tx = Transaction(station)
    queued: list[dict[str, Any]] = []
    try:
        await station.boot()
        await station.wait_for("GetBaseReport")
        await tx.start(TAG)
    finally:
        await close(ws, task)
    # Offline, the station ends the transaction and queues its last events.
    for kind, trigger, extra in (
        ("Updated", "MeterValuePeriodic", {"wh": 1500.0}),
        ("Ended", "EVCommunicationLost", {"stopped_reason": "EVDisconnected", "wh": 1900.0}),
    ):
        queued.append({"kind": kind, "trigger": trigger, "timestamp": now_iso(), **extra})
    station, ws, task = await connect(csms, "CS1")
    tx.station = station
    try:
        await station.status("Occupied")  # reconnected without a reboot
        told = await _status(csms, station, tx, queued=True, ongoing=False)
        assert told == {"messagesInQueue": True, "ongoingIndicator": False}
        for seq_no, q in enumerate(queued, start=1):
            for _ in range(2):  # the second send is a replay (its answer was lost)
                await tx.event(
                    q["kind"],
                    q["trigger"],
                    offline=True,
                    seq_no=seq_no,
                    timestamp=q["timestamp"],
                    wh=q["wh"],
                    stopped_reason=q.get("stopped_reason"),
                )
        rows = await events_of(csms, tx)
        assert [(r.seq_no, r.event_type, r.offline) for r in rows] == [
            (0, "Started", False),
            (1, "Updated", True),
            (2, "Ended", True),
        ]
        row = await session_of(csms, tx)
        assert row.stop_reason == "EVDisconnected" and row.energy_wh == pytest.approx(900.0)
        assert row.stopped_at.isoformat().startswith(queued[1]["timestamp"][:19])
    finally:
        await close(ws, task)


async def test_tc_e_33_transaction_status_without_id_with_queue(
    csms: Csms, station: Station
) -> None:
    told = await _status(csms, station, None, queued=True, ongoing=None)
    assert told == {"messagesInQueue": True}


async def test_tc_e_34_transaction_status_without_id_without_queue(
    csms: Csms, station: Station
) -> None:
    told = await _status(csms, station, None, queued=False, ongoing=None)
    assert told == {"messagesInQueue": False}


async def test_tc_e_53_seq_no_starts_at_zero_per_transaction(csms: Csms, station: Station) -> None:
    first, second = Transaction(station), Transaction(station)
    for tx in (first, second):
        started = await tx.start(TAG)
        assert started.id_token_info["status"] == "Accepted"
        # A replay of the Started (same seqNo): the same answer, nothing twice.
        again = await tx.event("Started", "Authorized", id_token=TAG, seq_no=0)
        assert again.id_token_info["status"] == "Accepted"
        await tx.event("Updated", "StopAuthorized", id_token=TAG, charging_state="EVConnected")
        await tx.end("Local", trigger_reason="EVCommunicationLost")
    for tx in (first, second):
        assert [r.seq_no for r in await events_of(csms, tx)] == [0, 1, 2]
        assert (await session_of(csms, tx)).stopped_at is not None
    assert len(await csms.rows(select(sessions))) == 2
