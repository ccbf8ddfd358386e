"""An independent 2.0.1 charging station on the ``ocpp`` package's v201 ChargePoint.

It answers what chargegrid asks after a boot (GetVariables, SetVariables,
GetBaseReport, SetChargingProfile, ...) like a simple wallbox, and records every CALL
it receives, so conformance tests can check what the CSMS sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result

from tests.e2e.conftest import Csms


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


@dataclass
class Received:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, action: str) -> list[dict[str, Any]]:
        return [p for a, p in self.calls if a == action]


class Station(ChargePoint):  # type: ignore[misc]
    received: Received
    variables: dict[tuple[str, str], str]
    profile_answer: str = "Accepted"

    def _got(self, action: str, payload: dict[str, Any]) -> None:
        self.received.calls.append((action, payload))
        self.received.arrived.set()

    @on("GetVariables")  # type: ignore[misc]
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._got("GetVariables", {"get_variable_data": get_variable_data})
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            if key in self.variables:
                results.append(
                    {
                        "attribute_status": "Accepted",
                        "attribute_value": self.variables[key],
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                )
            else:
                results.append(
                    {
                        "attribute_status": "UnknownVariable",
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                )
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")  # type: ignore[misc]
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._got("SetVariables", {"set_variable_data": set_variable_data})
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

    @on("GetBaseReport")  # type: ignore[misc]
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        self._got("GetBaseReport", {"request_id": request_id, "report_base": report_base})
        return call_result.GetBaseReport(status="Accepted")

    @on("SetChargingProfile")  # type: ignore[misc]
    def on_set_charging_profile(self, evse_id: int, charging_profile: Any, **_: Any) -> Any:
        self._got("SetChargingProfile", {"evse_id": evse_id, "charging_profile": charging_profile})
        return call_result.SetChargingProfile(status=self.profile_answer)

    @on("ClearChargingProfile")  # type: ignore[misc]
    def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        self._got("ClearChargingProfile", kwargs)
        return call_result.ClearChargingProfile(status="Accepted")

    @on("RequestStartTransaction")  # type: ignore[misc]
    def on_request_start(self, **kwargs: Any) -> Any:
        self._got("RequestStartTransaction", kwargs)
        return call_result.RequestStartTransaction(status="Accepted")

    @on("RequestStopTransaction")  # type: ignore[misc]
    def on_request_stop(self, **kwargs: Any) -> Any:
        self._got("RequestStopTransaction", kwargs)
        return call_result.RequestStopTransaction(status="Accepted")

    @on("Reset")  # type: ignore[misc]
    def on_reset(self, **kwargs: Any) -> Any:
        self._got("Reset", kwargs)
        return call_result.Reset(status="Accepted")

    @on("UnlockConnector")  # type: ignore[misc]
    def on_unlock(self, **kwargs: Any) -> Any:
        self._got("UnlockConnector", kwargs)
        return call_result.UnlockConnector(status="Unlocked")

    @on("ChangeAvailability")  # type: ignore[misc]
    def on_change_availability(self, **kwargs: Any) -> Any:
        self._got("ChangeAvailability", kwargs)
        return call_result.ChangeAvailability(status="Accepted")

    @on("TriggerMessage")  # type: ignore[misc]
    def on_trigger(self, **kwargs: Any) -> Any:
        self._got("TriggerMessage", kwargs)
        return call_result.TriggerMessage(status="Accepted")

    @on("GetTransactionStatus")  # type: ignore[misc]
    def on_transaction_status(self, **kwargs: Any) -> Any:
        self._got("GetTransactionStatus", kwargs)
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=True)

    @on("DataTransfer")  # type: ignore[misc]
    def on_data_transfer(self, **kwargs: Any) -> Any:
        self._got("DataTransfer", kwargs)
        return call_result.DataTransfer(status="Accepted")

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


DEFAULT_VARIABLES = {
    ("SmartChargingCtrlr", "RateUnit"): "A,W",
    ("SmartChargingCtrlr", "ProfileStackLevel"): "8",
    ("SmartChargingCtrlr", "ACPhaseSwitchingSupported"): "true",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "60",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register",
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
    task = asyncio.create_task(station.start())
    return station, ws, task


async def close(ws: Any, task: asyncio.Task[None]) -> None:
    await ws.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
        await task


Check = Callable[[], Awaitable[bool]]
