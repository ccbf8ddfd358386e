"""The central system's answers to what a 1.6 charger sends, one connection each.

Payloads arrive already checked against the 1.6 schemas, so handlers read required
fields directly and only translate: OCPP JSON in, a service call, OCPP JSON out.
"""

from __future__ import annotations

from typing import Any

from chargegrid.ocpp.charger_handlers import ChargerHandlers, HandlerFn
from chargegrid.ocpp.connection import Payload, Reply
from chargegrid.ocpp.limits import BIGINT_END, BIGINT_START, INT_START, bounded, bounded_or_none
from chargegrid.ocpp.times import ocpp_time, parse_timestamp
from chargegrid.ocpp.v16.meter_values import parse_meter_values
from chargegrid.services.charger_ports import (
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


def id_tag_info_json(info: IdTagInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        out["expiryDate"] = ocpp_time(info.expiry_date)
    if info.parent_id_tag is not None:
        out["parentIdTag"] = info.parent_id_tag
    return out


class CentralSystem16(ChargerHandlers):
    """Handlers for one connected 1.6 charger."""

    # A charger not (yet) accepted may only say who it is and how it is (OCPP 1.6 §4.2).
    before_acceptance = frozenset({"BootNotification", "Heartbeat", "StatusNotification"})

    def table(self) -> dict[str, HandlerFn]:
        return {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
            "DataTransfer": self.data_transfer,
            "SignCertificate": self.sign_certificate,
            **{action: self.notice(action) for action in NOTICES},
        }

    async def boot_notification(self, p: Payload) -> Payload | Reply:
        record, now = await self.messages.boot(
            self.charger,
            vendor=p["chargePointVendor"],
            model=p["chargePointModel"],
            serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
            firmware_version=p.get("firmwareVersion"),
        )
        return self.booted(record, now)

    async def status_notification(self, p: Payload) -> Payload:
        at = parse_timestamp(p["timestamp"]) if "timestamp" in p else self.messages.clock()
        error_code = p["errorCode"]
        write = StatusWrite(
            charger_id=self.charger.id,
            connector_id=bounded(p["connectorId"], "connectorId"),
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
        info = await self.messages.authorize(p["idTag"], self.charger)
        return {"idTagInfo": id_tag_info_json(info)}

    async def start_transaction(self, p: Payload) -> Payload:
        write = StartWrite(
            charger_id=self.charger.id,
            connector_id=bounded(p["connectorId"], "connectorId", 1),
            id_tag=p["idTag"],
            meter_start=p["meterStart"],
            timestamp=parse_timestamp(p["timestamp"]),
            reservation_id=bounded_or_none(p.get("reservationId"), "reservationId", INT_START),
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
            transaction_id=bounded(p["transactionId"], "transactionId", BIGINT_START, BIGINT_END),
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
            connector_id=bounded(p["connectorId"], "connectorId"),
            transaction_id=bounded_or_none(
                p.get("transactionId"), "transactionId", BIGINT_START, BIGINT_END
            ),
            samples=parse_meter_values(p["meterValue"]),
        )
        await self.messages.meter_values(write, self.charger.ocpp_id)
        return {}
