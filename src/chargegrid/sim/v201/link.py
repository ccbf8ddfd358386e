"""A 2.0.1 station's link: the ``ocpp2.0.1`` handshake, BootNotification with its
reason, StatusNotification per EVSE connector, heartbeats at
OCPPCommCtrlr.HeartbeatInterval, Basic auth with SecurityCtrlr.BasicAuthPassword.

Connecting, reconnecting, the boot-before-anything rule, ``calls_before_boot``,
``boot_delay_s``, link drops and reboots are the shared ``ChargerLink``'s: only what
goes on the wire differs.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from chargegrid.ocpp.connection import OcppConnection, Payload, Transport, TransportClosed
from chargegrid.ocpp.errors import AnswerError, OcppCallError
from chargegrid.sim.charger import SimCharger
from chargegrid.sim.draw_log import DrawLog
from chargegrid.sim.faults import Faults
from chargegrid.sim.link import dial_websocket
from chargegrid.sim.outbox import CALL_TIMEOUT, Outgoing
from chargegrid.sim.state import ChargerSpec, SimClock, ocpp_now
from chargegrid.sim.v201 import wire
from chargegrid.sim.v201.device_model import DeviceModel, Variable
from chargegrid.sim.v201.variables import LiveReads, station_variables

log = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp2.0.1"
CONNECTOR_ID = 1  # every EVSE has one connector


async def dial_websocket_201(url: str, headers: dict[str, str]) -> Transport:
    return await dial_websocket(url, headers, SUBPROTOCOL)


class Link201(SimCharger):
    schema_version = "v201"

    def __init__(
        self,
        spec: ChargerSpec,
        url: str,
        *,
        clock: SimClock,
        draw_log: DrawLog,
        rng: random.Random,
        faults: Faults | None = None,
    ) -> None:
        super().__init__(spec, url, clock=clock, draw_log=draw_log, rng=rng, faults=faults)
        self.dial = dial_websocket_201
        self.device = DeviceModel(
            station_variables(
                spec, LiveReads(self._availability, lambda: len(self.profiles.profiles))
            )
        )
        self.device.on_change = self._variable_changed
        self.boot_reason = "PowerUp"
        self._reset_when_idle = False  # Reset OnIdle answered Scheduled

    # -- the device model says ---------------------------------------------------------

    def variable(self, component: str, name: str, **where: Any) -> str:
        return self.device.value(component, name, **where)

    def _variable_changed(self, variable: Variable) -> None:
        if (variable.component, variable.name) == ("OCPPCommCtrlr", "HeartbeatInterval"):
            self.heartbeat_changed.set()

    def _set_heartbeat_interval(self, seconds: int) -> None:
        self.device.find("OCPPCommCtrlr", "HeartbeatInterval").value = str(seconds)

    def _heartbeat_s(self) -> float:
        return float(self.variable("OCPPCommCtrlr", "HeartbeatInterval"))

    def _meter_interval(self) -> float:
        if self.variable("SampledDataCtrlr", "Enabled") != "true":
            return 0.0
        return float(self.variable("SampledDataCtrlr", "TxUpdatedInterval"))

    def _auth_headers(self) -> dict[str, str]:
        password = self.device.find("SecurityCtrlr", "BasicAuthPassword").value
        if not password:
            return {}
        token = base64.b64encode(f"{self.spec.ocpp_id}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _availability(self, evse: int | None) -> str:
        if evse is None:
            return (
                "Available" if any(c.operative for c in self.connectors.values()) else "Unavailable"
            )
        return wire.connector_status(self.connectors[evse].status)

    # -- boot ------------------------------------------------------------------------

    def _boot_payload(self) -> dict[str, Any]:
        return {
            "reason": self.boot_reason,
            "chargingStation": {
                "model": self.spec.model[:20],
                "vendorName": self.spec.vendor[:50],
                "serialNumber": f"SN-{self.spec.ocpp_id}"[:25],
                "firmwareVersion": "sim-2.0.1",
            },
        }

    def boot_triggered(self, connection: OcppConnection) -> Callable[[], Awaitable[None]] | None:
        then = super().boot_triggered(connection)
        if then is not None:
            self.boot_reason = "Triggered"
        return then

    async def reboot(self, reason: str) -> None:
        self.boot_reason = wire.boot_reason(reason)
        self._reset_when_idle = False
        await super().reboot(reason)

    # -- status ----------------------------------------------------------------------

    def _status_payload(self, number: int, status: str) -> Payload:
        return {
            "timestamp": ocpp_now(),
            "connectorStatus": wire.connector_status(status),
            "evseId": number,
            "connectorId": CONNECTOR_ID,
        }

    async def _status(self, number: int) -> None:
        connection = self.connection
        if connection is None or not self._speaking or number not in self.connectors:
            return  # 2.0.1 reports connectors only (no evse 0)
        payload = self._status_payload(number, self.connectors[number].status)
        try:
            await connection.call("StatusNotification", payload, CALL_TIMEOUT)
        except (TransportClosed, TimeoutError, AnswerError, OcppCallError) as exc:
            log.info("%s: StatusNotification not delivered: %s", self.spec.ocpp_id, exc)

    def _queue_status(self, number: int, status: str) -> None:
        if self.connection is None or not self._speaking:
            return
        payload = self._status_payload(number, status)
        self.enqueue(Outgoing("StatusNotification", lambda: payload, transient=True))
