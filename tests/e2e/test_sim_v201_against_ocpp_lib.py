"""The simulator's OCPP 2.0.1 station against an INDEPENDENT minimal CSMS built on the
``ocpp`` package's v201 ChargePoint (server side, ``@on`` handlers) over real
``websockets`` on 127.0.0.1: the library validates every frame with its own schemas.

One station, driven end to end: handshake (``ocpp2.0.1``), boot, status, a transaction
with TransactionEvents and meter values, a SetChargingProfile that physically limits the
car (judged from the DrawLog), RequestStop/Start, Reset, GetBaseReport -> NotifyReport.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from chargegrid.sim.car import Car
from chargegrid.sim.fleet import Fleet, FleetConfig
from chargegrid.sim.v201.station import SimStation201

pytestmark = pytest.mark.e2e

SPEED = 10.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Heard:
    action: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class LibraryCsms(ChargePoint):  # type: ignore[misc]
    """Accepts everything and records what the station says (snake_case, as the
    library hands it over)."""

    heard: list[Heard]

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.heard.append(Heard(action, payload))

    @on("BootNotification")  # type: ignore[misc]
    def on_boot(self, **p: Any) -> Any:
        self._record("BootNotification", p)
        return call_result.BootNotification(current_time=now_iso(), interval=300, status="Accepted")

    @on("StatusNotification")  # type: ignore[misc]
    def on_status(self, **p: Any) -> Any:
        self._record("StatusNotification", p)
        return call_result.StatusNotification()

    @on("Heartbeat")  # type: ignore[misc]
    def on_heartbeat(self, **p: Any) -> Any:
        self._record("Heartbeat", p)
        return call_result.Heartbeat(current_time=now_iso())

    @on("Authorize")  # type: ignore[misc]
    def on_authorize(self, **p: Any) -> Any:
        self._record("Authorize", p)
        return call_result.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")  # type: ignore[misc]
    def on_transaction_event(self, **p: Any) -> Any:
        self._record("TransactionEvent", p)
        if "id_token" in p:
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()

    @on("MeterValues")  # type: ignore[misc]
    def on_meter_values(self, **p: Any) -> Any:
        self._record("MeterValues", p)
        return call_result.MeterValues()

    @on("NotifyReport")  # type: ignore[misc]
    def on_notify_report(self, **p: Any) -> Any:
        self._record("NotifyReport", p)
        return call_result.NotifyReport()

    def of(self, action: str) -> list[dict[str, Any]]:
        return [h.payload for h in self.heard if h.action == action]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.of("TransactionEvent") if kind in (None, e["event_type"])]


@dataclass
class Server:
    port: int
    stations: dict[str, LibraryCsms]
    subprotocols: list[str | None]
    heard: list[Heard]

    def station(self) -> LibraryCsms:
        return self.stations["V2-001"]


@contextlib.asynccontextmanager
async def library_csms() -> AsyncIterator[Server]:
    stations: dict[str, LibraryCsms] = {}
    subprotocols: list[str | None] = []
    heard: list[Heard] = []  # across every connection

    async def handler(ws: Any) -> None:
        ocpp_id = ws.request.path.rsplit("/", 1)[-1]
        subprotocols.append(ws.subprotocol)
        cp = LibraryCsms(ocpp_id, ws, response_timeout=5)
        cp.heard = heard
        stations[ocpp_id] = cp
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield Server(port, stations, subprotocols, heard)


async def eventually(
    check: Callable[[], bool],
    what: str,
    timeout: float = 10.0,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def peak(fleet: Fleet) -> float:
    sample = fleet.draw_log.latest("V2-001", 1)
    return 0.0 if sample is None else max(sample.l1, sample.l2, sample.l3)


async def test_a_simulated_201_station_end_to_end_against_the_ocpp_library() -> None:
    async with library_csms() as server:
        fleet = Fleet(
            FleetConfig(
                url=f"ws://127.0.0.1:{server.port}/ocpp",
                chargers=1,
                prefix="V2-",
                three_phase_share=1.0,
                speed=SPEED,
                tick_s=0.05,
                ocpp="2.0.1",
            )
        )
        fleet.arrivals = False
        await fleet.start()
        try:
            await drive(server, fleet)
        finally:
            await fleet.stop()


async def drive(server: Server, fleet: Fleet) -> None:
    station = fleet.charger("V2-001")
    heard = server.heard
    await eventually(lambda: bool([h for h in heard if h.action == "StatusNotification"]), "status")
    assert server.subprotocols == ["ocpp2.0.1"]
    csms = server.station()
    (boot,) = csms.of("BootNotification")
    assert boot["reason"] == "PowerUp"
    assert boot["charging_station"]["serial_number"] == "SN-V2-001"
    status = csms.of("StatusNotification")[0]
    assert (status["evse_id"], status["connector_id"], status["connector_status"]) == (
        1,
        1,
        "Available",
    )

    # Readings every 10 simulated s (1 real s), through the device model.
    answer = await csms.call(
        call.SetVariables(
            set_variable_data=[
                {
                    "component": {"name": "SampledDataCtrlr"},
                    "variable": {"name": "TxUpdatedInterval"},
                    "attributeValue": "10",
                }
            ]
        )
    )
    assert answer.set_variable_result[0]["attribute_status"] == "Accepted"

    # A car: Occupied, Authorize, TransactionEvent Started, 16 A on three phases.
    station.plug_in(1, Car("ev", 3, 16.0, 5e7, 20.0, stay_s=1e9, id_tag="TAG-201"))
    await eventually(lambda: bool(csms.events("Started")), "TransactionEvent Started")
    (started,) = csms.events("Started")
    assert started["trigger_reason"] == "Authorized"
    assert started["seq_no"] == 0
    assert started["id_token"] == {"id_token": "TAG-201", "type": "ISO14443"}
    tx_id = started["transaction_info"]["transaction_id"]
    await eventually(lambda: abs(peak(fleet) - 16.0) < 0.01, "the car at 16 A")

    # A TxProfile of 8 A: the car PHYSICALLY follows and stays there.
    answer = await csms.call(
        call.SetChargingProfile(
            evse_id=1,
            charging_profile={
                "id": 11,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": tx_id,
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
                    }
                ],
            },
        )
    )
    assert answer.status == "Accepted"
    await eventually(lambda: abs(peak(fleet) - 8.0) < 0.01, "the car down to 8 A")
    limited_from = time.monotonic()
    before = len(csms.events())
    await eventually(
        lambda: any(e["trigger_reason"] == "MeterValuePeriodic" for e in csms.events()[before:]),
        "a periodic reading at 8 A",
    )
    after_limit = [s for s in fleet.draw_log.series("V2-001", 1) if s.t >= limited_from]
    assert after_limit and max(max(s.l1, s.l2, s.l3) for s in after_limit) <= 8.0 + 1e-9
    periodic = next(
        e for e in csms.events()[before:] if e["trigger_reason"] == "MeterValuePeriodic"
    )
    values = periodic["meter_value"][0]["sampled_value"]
    currents = {v["phase"]: v["value"] for v in values if v.get("measurand") == "Current.Import"}
    assert currents == {"L1": 8.0, "L2": 8.0, "L3": 8.0}

    # RequestStopTransaction: Ended (Remote), the car draws nothing.
    answer = await csms.call(call.RequestStopTransaction(transaction_id=tx_id))
    assert answer.status == "Accepted"
    await eventually(lambda: bool(csms.events("Ended")), "Ended")
    (ended,) = csms.events("Ended")
    assert ended["transaction_info"]["stopped_reason"] == "Remote"
    assert ended["trigger_reason"] == "RemoteStop"
    await eventually(lambda: peak(fleet) == 0.0, "the car stopped")
    seq = [e["seq_no"] for e in csms.events()]
    assert seq == list(range(len(seq)))

    # RequestStartTransaction on the same EVSE (the car is still plugged in).
    answer = await csms.call(
        call.RequestStartTransaction(
            id_token={"idToken": "REMOTE-7", "type": "Central"}, remote_start_id=7, evse_id=1
        )
    )
    assert answer.status == "Accepted"
    await eventually(lambda: len(csms.events("Started")) == 2, "the remote start")
    remote = csms.events("Started")[1]
    assert remote["trigger_reason"] == "RemoteStart"
    assert remote["transaction_info"]["remote_start_id"] == 7
    assert remote["transaction_info"]["transaction_id"] != tx_id
    await eventually(lambda: peak(fleet) > 6.0, "drawing again (no TxProfile any more)")

    # Reset Immediate: the transaction ends, the station reboots with reason RemoteReset.
    answer = await csms.call(call.Reset(type="Immediate"))
    assert answer.status == "Accepted"
    await eventually(
        lambda: len([h for h in heard if h.action == "BootNotification"]) == 2, "the reboot"
    )
    csms = server.station()  # the new connection
    reboot = [h.payload for h in heard if h.action == "BootNotification"][1]
    assert reboot["reason"] == "RemoteReset"
    reset_end = [
        h.payload
        for h in heard
        if h.action == "TransactionEvent" and h.payload["event_type"] == "Ended"
    ][-1]
    assert reset_end["transaction_info"]["stopped_reason"] == "ImmediateReset"
    assert reset_end["trigger_reason"] == "ResetCommand"

    # GetBaseReport: NotifyReport messages, split by ItemsPerMessage, ending tbc false.
    await eventually(lambda: station.registered, "registered again")
    answer = await csms.call(call.GetBaseReport(request_id=99, report_base="FullInventory"))
    assert answer.status == "Accepted"
    await eventually(
        lambda: any(r["tbc"] is False for r in csms.of("NotifyReport")), "the last NotifyReport"
    )
    reports = csms.of("NotifyReport")
    assert {r["request_id"] for r in reports} == {99}
    assert [r["seq_no"] for r in reports] == list(range(len(reports)))
    items = [item for r in reports for item in r["report_data"]]
    assert isinstance(station, SimStation201)
    assert len(items) == len(station.device.variables)
    names = {(i["component"]["name"], i["variable"]["name"]) for i in items}
    assert ("SampledDataCtrlr", "TxUpdatedInterval") in names
    assert ("SmartChargingCtrlr", "ACPhaseSwitchingSupported") in names
