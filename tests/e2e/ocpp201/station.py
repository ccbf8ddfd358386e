"""An independent 2.0.1 charging station on the ``ocpp`` package's v201 ChargePoint.

It answers what chargegrid asks (GetVariables, SetVariables, GetBaseReport,
SetChargingProfile, Reset, GetLog, ...) like a simple wallbox, and records every CALL
it receives, so conformance tests can check what the CSMS sent. What it answers can be
changed per action (``Station.answers``); everything it receives and sends is checked
against the 2.0.1 schemas by the ``ocpp`` package, so a CSMS CALL that breaks them is
refused (a CallError) and fails the test that sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from chargegrid.services.charger_commands import Command
from tests.e2e.conftest import Csms

COMMAND_TIMEOUT = 5.0


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


@dataclass
class Received:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, action: str) -> list[dict[str, Any]]:
        return [p for a, p in self.calls if a == action]

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


Answer = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]

# What the station answers by default (snake_case, as the ocpp package writes them).
DEFAULT_ANSWERS: dict[str, Mapping[str, Any]] = {
    "GetBaseReport": {"status": "Accepted"},
    "GetReport": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "GetChargingProfiles": {"status": "Accepted"},
    "GetCompositeSchedule": {"status": "Accepted"},
    "RequestStartTransaction": {"status": "Accepted"},
    "RequestStopTransaction": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "ChangeAvailability": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "GetTransactionStatus": {"messages_in_queue": False, "ongoing_indicator": True},
    "DataTransfer": {"status": "Accepted"},
    "SetNetworkProfile": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "UpdateFirmware": {"status": "Accepted"},
    "PublishFirmware": {"status": "Accepted"},
    "UnpublishFirmware": {"status": "Unpublished"},
    "GetLog": {"status": "Accepted", "filename": "diagnostics.log"},
    "CustomerInformation": {"status": "Accepted"},
    "SetMonitoringBase": {"status": "Accepted"},
    "SetMonitoringLevel": {"status": "Accepted"},
    "GetMonitoringReport": {"status": "Accepted"},
    "SetVariableMonitoring": lambda p: {
        "set_monitoring_result": [
            {
                "status": "Accepted",
                "type": d["type"],
                "severity": d["severity"],
                "component": d["component"],
                "variable": d["variable"],
                "id": n,
            }
            for n, d in enumerate(p["set_monitoring_data"], start=1)
        ]
    },
    "ClearVariableMonitoring": lambda p: {
        "clear_monitoring_result": [{"status": "Accepted", "id": i} for i in p["id"]]
    },
}


class Station(ChargePoint):  # type: ignore[misc]
    received: Received
    variables: dict[tuple[str, str], str]
    answers: dict[str, Answer]
    profile_answer: str = "Accepted"

    def _got(self, action: str, payload: dict[str, Any]) -> None:
        self.received.calls.append((action, payload))
        self.received.arrived.set()

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self.answers.get(action, DEFAULT_ANSWERS.get(action, {}))
        return dict(answer(payload) if callable(answer) else answer)

    @on("GetVariables")  # type: ignore[misc]
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._got("GetVariables", {"get_variable_data": get_variable_data})
        results = []
        for item in get_variable_data:
            name = item["variable"]["name"]
            if "instance" in item["variable"]:
                name = f"{name}[{item['variable']['instance']}]"
            key = (item["component"]["name"], name)
            found = {"attribute_value": self.variables[key]} if key in self.variables else {}
            results.append(
                {
                    "attribute_status": "Accepted" if found else "UnknownVariable",
                    **found,
                    **{k: item[k] for k in ("attribute_type",) if k in item},
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")  # type: ignore[misc]
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        payload = {"set_variable_data": set_variable_data}
        self._got("SetVariables", payload)
        if "SetVariables" in self.answers:
            return call_result.SetVariables(**self._answer("SetVariables", payload))
        results = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            self.variables[key] = item["attribute_value"]
            results.append(
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on("SetChargingProfile")  # type: ignore[misc]
    def on_set_charging_profile(self, evse_id: int, charging_profile: Any, **_: Any) -> Any:
        self._got("SetChargingProfile", {"evse_id": evse_id, "charging_profile": charging_profile})
        return call_result.SetChargingProfile(status=self.profile_answer)

    async def wait_for(
        self,
        action: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """The first ``count`` CALLs of ``action`` received (fails after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while len(self.received.of(action)) < count:
                self.received.arrived.clear()
                await self.received.arrived.wait()
        return self.received.of(action)

    # -- what a station says ----------------------------------------------------------

    async def boot(self, reason: str = "PowerUp") -> Any:
        return await self.call(
            call.BootNotification(
                charging_station={"model": "Wallbox", "vendor_name": "Independent"},
                reason=reason,
            )
        )

    async def status(self, connector_status: str, evse_id: int = 1, connector_id: int = 1) -> Any:
        return await self.call(
            call.StatusNotification(
                timestamp=now_iso(),
                connector_status=connector_status,
                evse_id=evse_id,
                connector_id=connector_id,
            )
        )

    async def authorize(self, id_token: str, type: str = "ISO14443") -> dict[str, Any]:
        answer = await self.call(call.Authorize(id_token={"id_token": id_token, "type": type}))
        info: dict[str, Any] = answer.id_token_info
        return info

    async def command(self, csms: Csms, command: Command) -> Mapping[str, Any]:
        """``command`` sent by the CSMS to this station, as the REST actions send it."""
        return await csms.central.gateway.command(self.id, command, COMMAND_TIMEOUT)


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _recorder(action: str, name: str) -> Callable[..., Any]:
    def handler(self: Station, **payload: Any) -> Any:
        self._got(action, payload)
        return getattr(call_result, action)(**self._answer(action, payload))

    handler.__name__ = name  # the ocpp package routes by the function's name
    return on(action)(handler)  # type: ignore[no-any-return]


for _action in DEFAULT_ANSWERS:
    _name = f"on_{_SNAKE.sub('_', _action).lower()}"
    setattr(Station, _name, _recorder(_action, _name))


@dataclass
class Transaction:
    """One transaction as the station numbers it: its id and the next seqNo."""

    station: Station
    evse_id: int = 1
    connector_id: int = 1
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: itertools.count[int] = field(default_factory=itertools.count)

    async def event(
        self,
        event_type: str,
        trigger_reason: str,
        *,
        id_token: str | None = None,
        token_type: str = "ISO14443",
        charging_state: str | None = None,
        stopped_reason: str | None = None,
        remote_start_id: int | None = None,
        wh: float | None = None,
        context: str | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        offline: bool | None = None,
        seq_no: int | None = None,
        evse: bool = True,
        timestamp: str | None = None,
        **extra: Any,
    ) -> Any:
        """Send one TransactionEvent (the next seqNo unless given); its answer."""
        info: dict[str, Any] = {"transaction_id": self.id}
        for key, value in (
            ("charging_state", charging_state),
            ("stopped_reason", stopped_reason),
            ("remote_start_id", remote_start_id),
        ):
            if value is not None:
                info[key] = value
        if wh is not None:
            sample: dict[str, Any] = {"value": wh}
            if context is not None:
                sample["context"] = context
            meter_value = [{"timestamp": now_iso(), "sampled_value": [sample]}]
        return await self.station.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=timestamp or now_iso(),
                trigger_reason=trigger_reason,
                seq_no=next(self.seq) if seq_no is None else seq_no,
                transaction_info=info,
                id_token=None if id_token is None else {"id_token": id_token, "type": token_type},
                evse={"id": self.evse_id, "connector_id": self.connector_id} if evse else None,
                meter_value=meter_value,
                offline=offline,
                **extra,
            )
        )

    async def start(self, id_token: str | None = None, wh: float = 1000.0, **kw: Any) -> Any:
        return await self.event(
            "Started",
            kw.pop("trigger_reason", "CablePluggedIn" if id_token is None else "Authorized"),
            id_token=id_token,
            charging_state=kw.pop("charging_state", "Charging"),
            wh=wh,
            context="Transaction.Begin",
            **kw,
        )

    async def end(self, stopped_reason: str = "Local", wh: float = 2000.0, **kw: Any) -> Any:
        return await self.event(
            "Ended",
            kw.pop("trigger_reason", "StopAuthorized"),
            stopped_reason=stopped_reason,
            wh=wh,
            context="Transaction.End",
            **kw,
        )


DEFAULT_VARIABLES = {
    ("SmartChargingCtrlr", "RateUnit"): "A,W",
    ("SmartChargingCtrlr", "ProfileStackLevel"): "8",
    ("SmartChargingCtrlr", "ACPhaseSwitchingSupported"): "true",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "60",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register",
    ("OCPPCommCtrlr", "OfflineThreshold"): "60",
    ("AuthCtrlr", "AuthorizeRemoteStart"): "true",
}


async def connect(
    csms: Csms, ocpp_id: str, *, subprotocols: list[str] | None = None, **kwargs: Any
) -> tuple[Station, Any, asyncio.Task[None]]:
    """A connected station (its read loop running); close ``ws`` and await the task."""
    ws = await websockets.connect(
        csms.url(ocpp_id), subprotocols=subprotocols or ["ocpp2.0.1"], **kwargs
    )
    station = Station(ocpp_id, ws)
    station.received = Received()
    station.variables = dict(DEFAULT_VARIABLES)
    station.answers = {}
    task = asyncio.create_task(station.start())
    return station, ws, task


async def close(ws: Any, task: asyncio.Task[None]) -> None:
    await ws.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
        await task


@contextlib.asynccontextmanager
async def booted(
    csms: Csms, ocpp_id: str = "CS1", *, add: bool = True, **charger: Any
) -> AsyncIterator[Station]:
    """A registered station, booted (Accepted), its connector Available and the CSMS's
    post-boot exchange over; what it received until then is forgotten."""
    if add:
        await csms.add_charger(ocpp_id, **charger)
    station, ws, task = await connect(csms, ocpp_id)
    try:
        answer = await station.boot()
        assert answer.status == "Accepted"
        await station.wait_for("GetBaseReport")
        await station.status("Available")
        station.received.clear()
        yield station
    finally:
        await close(ws, task)


Check = Callable[[], Awaitable[bool]]
