"""The central system's answers to what a 1.6 charger sends, one connection each.

Payloads arrive already checked against the 1.6 schemas, so handlers read required
fields directly and only translate: OCPP JSON in, a service call, OCPP JSON out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from chargegrid.ocpp.connection import Handler, Payload, Reply
from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.ocpp.v16.meter_values import parse_meter_values, parse_timestamp
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import (
    ChargerRecord,
    IdTagInfo,
    MeterWrite,
    StartWrite,
    StatusWrite,
    StopWrite,
)

NOTICES = (
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "SecurityEventNotification",
    "LogStatusNotification",
    "SignedFirmwareStatusNotification",
)

# A charger not (yet) accepted may only say who it is and how it is (OCPP 1.6 §4.2).
_BEFORE_ACCEPTANCE = frozenset({"BootNotification", "Heartbeat", "StatusNotification"})
# A Pending charger boots again after this many seconds (the answer's ``interval``):
# short, so one an operator accepts is steered soon after.
PENDING_RETRY_S = 30


class Registration(Protocol):
    """Follows who spoke first on the connection (``ocpp.boot_sequence.BootSequence``)."""

    def heard(self, action: str) -> None: ...

    def answered(self, action: str, reply: Payload | Reply, accepted: bool) -> Payload | Reply: ...


def ocpp_time(value: datetime) -> str:
    """UTC with millisecond precision and a ``Z``: the form every charger parses."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def id_tag_info_json(info: IdTagInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        out["expiryDate"] = ocpp_time(info.expiry_date)
    if info.parent_id_tag is not None:
        out["parentIdTag"] = info.parent_id_tag
    return out


class CentralSystem16:
    """Handlers for one connected 1.6 charger."""

    def __init__(
        self,
        charger: ChargerRecord,
        messages: ChargerMessages,
        registration: Registration | None = None,
    ) -> None:
        self.charger = charger
        self.messages = messages
        self.registration = registration
        self.accepted = charger.registration_status == "Accepted"

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Callable[[Payload], Awaitable[Payload | Reply]]] = {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
            "DataTransfer": self.data_transfer,
            **{action: self._notice(action) for action in NOTICES},
        }
        return {action: self._gate(action, fn) for action, fn in table.items()}

    def _gate(self, action: str, fn: Callable[[Payload], Awaitable[Payload | Reply]]) -> Handler:
        open_before = action in _BEFORE_ACCEPTANCE

        async def gated(payload: Payload) -> Payload | Reply:
            if self.registration is not None:
                self.registration.heard(action)
            if not open_before and not self.accepted:
                raise OcppCallError(
                    ErrorCode.SECURITY_ERROR,
                    f"{action} before the central system accepted this charger",
                )
            reply = await fn(payload)
            if self.registration is None:
                return reply
            return self.registration.answered(action, reply, self.accepted)

        return gated

    async def boot_notification(self, p: Payload) -> Payload | Reply:
        record, now = await self.messages.boot(
            self.charger,
            vendor=p["chargePointVendor"],
            model=p["chargePointModel"],
            serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
            firmware_version=p.get("firmwareVersion"),
        )
        self.charger = record
        status = record.registration_status
        self.accepted = status == "Accepted"
        interval = self.messages.heartbeat_interval if self.accepted else PENDING_RETRY_S
        return {"status": status, "currentTime": ocpp_time(now), "interval": interval}

    async def heartbeat(self, p: Payload) -> Payload:
        now = await self.messages.heartbeat(self.charger)
        return {"currentTime": ocpp_time(now)}

    async def status_notification(self, p: Payload) -> Payload:
        at = parse_timestamp(p["timestamp"]) if "timestamp" in p else self.messages.clock()
        error_code = p["errorCode"]
        write = StatusWrite(
            charger_id=self.charger.id,
            connector_id=p["connectorId"],
            status=p["status"],
            error_code=None if error_code == "NoError" else error_code,
            info=p.get("info"),
            vendor_id=p.get("vendorId"),
            vendor_error_code=p.get("vendorErrorCode"),
            at=at,
        )
        await self.messages.status(write, self.charger.ocpp_id)
        return {}

    async def authorize(self, p: Payload) -> Payload:
        info = await self.messages.authorize(p["idTag"])
        return {"idTagInfo": id_tag_info_json(info)}

    async def start_transaction(self, p: Payload) -> Payload:
        write = StartWrite(
            charger_id=self.charger.id,
            connector_id=p["connectorId"],
            id_tag=p["idTag"],
            meter_start=p["meterStart"],
            timestamp=parse_timestamp(p["timestamp"]),
            reservation_id=p.get("reservationId"),
        )
        started = await self.messages.start_transaction(write, self.charger.ocpp_id)
        return {
            "transactionId": started.transaction_id,
            "idTagInfo": id_tag_info_json(started.id_tag_info),
        }

    async def stop_transaction(self, p: Payload) -> Payload:
        samples = parse_meter_values(p.get("transactionData") or ())
        write = StopWrite(
            charger_id=self.charger.id,
            transaction_id=p["transactionId"],
            meter_stop=p["meterStop"],
            timestamp=parse_timestamp(p["timestamp"]),
            reason=p.get("reason"),
            id_tag=p.get("idTag"),
            samples=samples,
        )
        stopped = await self.messages.stop_transaction(write, self.charger.ocpp_id)
        if stopped.id_tag_info is None:
            return {}
        return {"idTagInfo": id_tag_info_json(stopped.id_tag_info)}

    async def meter_values(self, p: Payload) -> Payload:
        write = MeterWrite(
            charger_id=self.charger.id,
            connector_id=p["connectorId"],
            transaction_id=p.get("transactionId"),
            samples=parse_meter_values(p["meterValue"]),
        )
        await self.messages.meter_values(write, self.charger.ocpp_id)
        return {}

    async def data_transfer(self, p: Payload) -> Payload:
        # Stored and published; no vendor extension is implemented, and the spec's
        # answer for that is UnknownVendorId.
        await self.messages.notice(self.charger, "DataTransfer", p)
        return {"status": "UnknownVendorId"}

    def _notice(self, action: str) -> Callable[[Payload], Awaitable[Payload]]:
        """Diagnostics/firmware/log/security notices: stored and published."""

        async def handle(p: Payload) -> Payload:
            await self.messages.notice(self.charger, action, p)
            return {}

        return handle
