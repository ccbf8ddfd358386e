"""What a 2.0.1 station answers to the CSMS: remote start/stop, Reset, UnlockConnector,
ChangeAvailability, TriggerMessage, GetTransactionStatus, DataTransfer, and for every
other call a CSMS may send a valid refusal (``Rejected``, ``NotSupported``, ...) rather
than an error. Faults ``answer_delay_s`` and ``calls_before_boot`` wrap the whole table
(the shared ``CentralSystemCalls._with_faults``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chargegrid.ocpp.connection import Handler, Payload, Reply
from chargegrid.sim.car import random_car
from chargegrid.sim.outbox import CALL_TIMEOUT, Outgoing
from chargegrid.sim.state import ConnectorState, Transaction
from chargegrid.sim.v201.reports import Reports201
from chargegrid.sim.v201.transactions import StationTransaction

Answer = Callable[[Payload], Payload]

# Calls the station does not model, answered as a station without the feature would.
REFUSALS: dict[str, Answer] = {
    "CancelReservation": lambda p: {"status": "Rejected"},
    "CertificateSigned": lambda p: {"status": "Rejected"},
    "ClearCache": lambda p: {"status": "Accepted"},
    "ClearDisplayMessage": lambda p: {"status": "Unknown"},
    "ClearVariableMonitoring": lambda p: {
        "clearMonitoringResult": [{"status": "NotFound", "id": i} for i in p["id"]]
    },
    "CostUpdated": lambda p: {},
    "CustomerInformation": lambda p: {"status": "Rejected"},
    "DeleteCertificate": lambda p: {"status": "NotFound"},
    "GetDisplayMessages": lambda p: {"status": "Unknown"},
    "GetInstalledCertificateIds": lambda p: {"status": "NotFound"},
    "GetLocalListVersion": lambda p: {"versionNumber": 0},
    "GetLog": lambda p: {"status": "Rejected"},
    "GetMonitoringReport": lambda p: {"status": "NotSupported"},
    "InstallCertificate": lambda p: {"status": "Rejected"},
    "PublishFirmware": lambda p: {"status": "Rejected"},
    "ReserveNow": lambda p: {"status": "Rejected"},
    "SendLocalList": lambda p: {"status": "Failed"},
    "SetDisplayMessage": lambda p: {"status": "Rejected"},
    "SetMonitoringBase": lambda p: {"status": "NotSupported"},
    "SetMonitoringLevel": lambda p: {"status": "Rejected"},
    "SetNetworkProfile": lambda p: {"status": "Rejected"},
    "SetVariableMonitoring": lambda p: {
        "setMonitoringResult": [
            {
                "status": "UnsupportedMonitorType",
                "type": m["type"],
                "severity": m["severity"],
                "component": m["component"],
                "variable": m["variable"],
            }
            for m in p["setMonitoringData"]
        ]
    },
    "UnpublishFirmware": lambda p: {"status": "NoFirmware"},
    "UpdateFirmware": lambda p: {"status": "Rejected"},
    "DataTransfer": lambda p: {"status": "UnknownVendorId"},
}
TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "TransactionEvent",
    "LogStatusNotification",
    "FirmwareStatusNotification",
)


def _fixed(payload: Payload) -> Callable[[], Payload]:
    return lambda: payload


def _answer(fn: Answer) -> Handler:
    async def handle(payload: Payload) -> Payload:
        return fn(payload)

    return handle


class Commands201(Reports201):
    def _command_table(self) -> dict[str, Handler]:
        table = {action: _answer(fn) for action, fn in REFUSALS.items()}
        table.update(self._smart_charging_table())
        table.update(self._reports_table())
        table.update(
            {
                "RequestStartTransaction": self._request_start,
                "RequestStopTransaction": self._request_stop,
                "Reset": self._reset_201,
                "UnlockConnector": self._unlock_201,
                "ChangeAvailability": self._change_availability_201,
                "TriggerMessage": self._trigger_201,
                "GetTransactionStatus": self._transaction_status,
            }
        )
        return table

    def _evse(self, p: Payload) -> ConnectorState | None:
        evse = p.get("evse")
        return self.connectors.get(evse["id"]) if evse else None

    async def _request_start(self, p: Payload) -> Payload | Reply:
        number = p.get("evseId") or self.free_connector()
        if number is None or number not in self.connectors:
            return {"status": "Rejected"}
        c = self.connectors[number]
        if c.tx is not None or c.drawing_without_tx or not c.operative or not self.powered:
            return {"status": "Rejected"}
        profile = p.get("chargingProfile")
        if profile is not None and profile["chargingProfilePurpose"] != "TxProfile":
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidProfile"}}
        token = p["idToken"]

        async def start() -> None:
            if c.tx is not None or c.drawing_without_tx or not self.powered:
                return
            if c.car is None:
                car = random_car(self.rng, f"remote-{number}", token["idToken"], 3600.0)
                c.car = car
                c.plugged_at = self.clock.now()
                c.leave_at = c.plugged_at + car.stay_s
            tx = self._start_transaction(
                c,
                token["idToken"],
                trigger="RemoteStart",
                remote_start_id=p["remoteStartId"],
                token_type=token["type"],
            )
            if profile is not None:
                await self._set_charging_profile(
                    {"evseId": number, "chargingProfile": {**profile, "transactionId": tx.id}}
                )

        return Reply({"status": "Accepted"}, start)

    async def _request_stop(self, p: Payload) -> Payload | Reply:
        for c in self.connectors.values():
            if c.tx is not None and c.tx.id == p["transactionId"]:
                return Reply({"status": "Accepted"}, self._stopper(c, c.tx))
        return {"status": "Rejected"}

    def _stopper(self, c: ConnectorState, tx: Transaction) -> Callable[[], Awaitable[None]]:
        async def stop() -> None:
            if c.tx is tx:
                self._stop_transaction(c, "Remote")
                self._set_status(c, "Finishing")

        return stop

    async def _reset_201(self, p: Payload) -> Payload | Reply:
        if "evseId" in p:
            c = self.connectors.get(p["evseId"])
            if c is None or (c.tx is not None and p["type"] == "OnIdle"):
                return {"status": "Rejected"}
            if c.tx is not None:
                self._stop_transaction(c, "SoftReset")
            return {"status": "Accepted"}
        busy = any(c.tx is not None for c in self.connectors.values())
        if p["type"] == "OnIdle" and busy:
            self._reset_when_idle = True
            return {"status": "Scheduled"}
        # Immediate: transactions end first (ImmediateReset), unless the station is one
        # that resumes them after a reboot (fault resume_after_reboot).
        reason = "HardReset" if self.faults.resume_after_reboot else "SoftReset"

        async def go_down() -> None:
            self._spawn(self.reboot(reason))  # outlives the connection it closes

        return Reply({"status": "Accepted"}, go_down)

    async def _unlock_201(self, p: Payload) -> Payload:
        c = self.connectors.get(p["evseId"])
        if c is None or p["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        if c.tx is not None:
            return {"status": "OngoingAuthorizedTransaction"}
        if c.car is not None:
            self.leave(c.number, "UnlockCommand")
        return {"status": "Unlocked"}

    async def _change_availability_201(self, p: Payload) -> Payload:
        operative = p["operationalStatus"] == "Operative"
        evse = p.get("evse")
        targets = list(self.connectors.values())
        if evse and evse["id"] != 0:
            c = self.connectors.get(evse["id"])
            if c is None or evse.get("connectorId", 1) != 1:
                return {"status": "Rejected"}
            targets = [c]
        scheduled = False
        for c in targets:
            c.operative = operative
            if c.tx is not None and not operative:
                scheduled = True  # Unavailable once the transaction has ended
            elif c.car is None:
                self._set_status(c, "Available" if operative else "Unavailable")
        return {"status": "Scheduled" if scheduled else "Accepted"}

    async def _trigger_201(self, p: Payload) -> Payload | Reply:
        message = p["requestedMessage"]
        connection = self.connection
        if connection is None:
            return {"status": "Rejected"}
        if message not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        if message == "BootNotification":
            return Reply({"status": "Accepted"}, self.boot_triggered(connection))
        if "evse" in p and self._evse(p) is None:
            return {"status": "Rejected"}
        chosen = [c for c in self.connectors.values() if "evse" not in p or c is self._evse(p)]
        sends: dict[str, Callable[[], Awaitable[None]]] = {
            "Heartbeat": lambda: self._call("Heartbeat", {}),
            "StatusNotification": lambda: self._statuses(chosen),
            "LogStatusNotification": lambda: self._call(
                "LogStatusNotification", {"status": "Idle"}
            ),
            "FirmwareStatusNotification": lambda: self._call(
                "FirmwareStatusNotification", {"status": "Idle"}
            ),
            "MeterValues": lambda: self._triggered_readings(chosen),
            "TransactionEvent": lambda: self._triggered_events(chosen),
        }
        return Reply({"status": "Accepted"}, sends[message])

    async def _call(self, action: str, payload: Payload) -> None:
        connection = self.connection
        if connection is not None:
            await connection.call(action, payload, CALL_TIMEOUT)

    async def _statuses(self, chosen: list[ConnectorState]) -> None:
        for c in chosen:
            await self._status(c.number)

    async def _triggered_readings(self, chosen: list[ConnectorState]) -> None:
        for c in chosen:
            if c.car is not None:
                payload = {"evseId": c.number, "meterValue": [self._meter_value(c, "Trigger")]}
                self.enqueue(Outgoing("MeterValues", _fixed(payload)))

    async def _triggered_events(self, chosen: list[ConnectorState]) -> None:
        for c in chosen:
            if isinstance(c.tx, StationTransaction):
                self._event(c, c.tx, "Updated", "Trigger", "Trigger")

    async def _transaction_status(self, p: Payload) -> Payload:
        wanted = p.get("transactionId")
        queued = [item.build() for item in self.outbox.items if item.action == "TransactionEvent"]
        in_queue = any(
            wanted is None or e["transactionInfo"]["transactionId"] == wanted for e in queued
        )
        answer: Payload = {"messagesInQueue": in_queue}
        if wanted is not None:
            answer["ongoingIndicator"] = any(
                c.tx is not None and c.tx.id == wanted for c in self.connectors.values()
            )
        return answer
