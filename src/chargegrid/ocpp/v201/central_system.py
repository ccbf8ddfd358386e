"""The CSMS's answers to what a 2.0.1 charging station sends, one connection each.

The same use cases as 1.6 (``services.charger_messages``) with 2.0.1's words: a
TransactionEvent is a start, a meter reading and a stop in one message type, numbered
by ``seqNo``; an EVSE (``evseId``) is what 1.6 calls a connector; an idToken has a type.
Payloads arrive checked against the 2.0.1 schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chargegrid.ocpp.charger_handlers import ChargerHandlers, HandlerFn
from chargegrid.ocpp.connection import Payload, Reply
from chargegrid.ocpp.limits import INT_START, bounded, bounded_or_none
from chargegrid.ocpp.times import ocpp_time, parse_timestamp
from chargegrid.ocpp.v201.device_model import from_report, phase_rotation_report
from chargegrid.ocpp.v201.meter_values import parse_meter_values
from chargegrid.services.certificates import CsrVerdict
from chargegrid.services.charger_ports import (
    ConfigWrite,
    EvNeedsWrite,
    ExternalLimitWrite,
    IdTagInfo,
    MeterWrite,
    StatusWrite,
    TxEventWrite,
    VariablesWrite,
)

# Stored and published as they came (charger_notices); answered with an empty payload.
NOTICES = (
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "SecurityEventNotification",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "PublishFirmwareStatusNotification",
    "ReservationStatusUpdate",
    "ReportChargingProfiles",
)
# A station not (yet) accepted may only boot again, and report its device model when
# asked; anything else is a SecurityError (B02.FR.09, B03.FR.07: a StatusNotification or
# Heartbeat is only allowed when the CSMS triggered it, and it sends nothing before
# acceptance).
# 2.0.1 connectorStatus -> the status our store reads (1.6 words where they mean the
# same: Available ends open sessions there, as in 1.6).
CONNECTOR_STATUS = {
    "Available": "Available",
    "Occupied": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}
NO_AUTHORIZATION = "NoAuthorization"


_PHASES_FIELD = "chargingSchedulePeriod.numberPhases"


def external_amps(schedules: Iterable[Payload], voltage: float = 230.0) -> float | None:
    """The lowest per-phase current an external limit allows at any point of its
    schedules (its periods may rise later; planning within the lowest is safe). A limit
    in W is per station or EVSE over its phases: turned into A per phase at 230 V."""
    lowest: float | None = None
    for schedule in schedules:
        watts = schedule["chargingRateUnit"] == "W"
        for period in schedule["chargingSchedulePeriod"]:
            limit = float(period["limit"])
            if watts:
                phases = bounded(period.get("numberPhases", 3), _PHASES_FIELD, 1, 4)
                limit /= voltage * phases
            lowest = limit if lowest is None else min(lowest, limit)
    return lowest


def id_token_info_json(info: IdTagInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        out["cacheExpiryDateTime"] = ocpp_time(info.expiry_date)
    if info.parent_id_tag is not None:
        out["groupIdToken"] = {"idToken": info.parent_id_tag, "type": "Central"}
    return out


class CentralSystem201(ChargerHandlers):
    """Handlers for one connected 2.0.1 station."""

    before_acceptance = frozenset({"BootNotification", "NotifyReport"})

    def table(self) -> dict[str, HandlerFn]:
        return {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "TransactionEvent": self.transaction_event,
            "MeterValues": self.meter_values,
            "NotifyReport": self.notify_report,
            "NotifyEVChargingNeeds": self.notify_ev_charging_needs,
            "NotifyEVChargingSchedule": self.notify_ev_charging_schedule,
            "NotifyChargingLimit": self.notify_charging_limit,
            "ClearedChargingLimit": self.cleared_charging_limit,
            "DataTransfer": self.data_transfer,
            "SignCertificate": self.sign_certificate,
            "Get15118EVCertificate": self.ev_certificate,
            "GetCertificateStatus": self.certificate_status,
            **{action: self.notice(action) for action in NOTICES},
        }

    # -- B provisioning ---------------------------------------------------------------

    async def boot_notification(self, p: Payload) -> Payload | Reply:
        station = p["chargingStation"]
        record, now = await self.messages.boot(
            self.charger,
            vendor=station["vendorName"],
            model=station["model"],
            serial_number=station.get("serialNumber"),
            firmware_version=station.get("firmwareVersion"),
            reason=p["reason"],
        )
        return self.booted(record, now)

    async def notify_report(self, p: Payload) -> Payload:
        report = p.get("reportData") or ()
        for item in report:  # the EVSE and connector ids go to INTEGER columns
            evse = item["component"].get("evse")
            if evse is not None:
                bounded(evse["id"], "component.evse.id")
                bounded_or_none(evse.get("connectorId"), "component.evse.connectorId")
        variables = from_report(report)
        await self.messages.variables(
            VariablesWrite(self.charger.id, "report", variables, self.messages.clock())
        )
        # Its wiring, as 1.6's ConnectorPhaseRotation would say it: connectors nobody
        # set are wired as the station reports (docs/ocpp.md "After each boot").
        rotation = phase_rotation_report(variables)
        if rotation is not None:
            learnt = ConfigWrite(self.charger.id, connector_phase_rotation=rotation)
            await self.messages.configuration_learnt(learnt, self.charger.ocpp_id)
        return {}

    # -- G availability ---------------------------------------------------------------

    async def status_notification(self, p: Payload) -> Payload:
        status: str = p["connectorStatus"]
        bounded(p["connectorId"], "connectorId")
        write = StatusWrite(
            charger_id=self.charger.id,
            connector_id=bounded(p["evseId"], "evseId"),
            status=CONNECTOR_STATUS.get(status, status),
            error_code=None,
            info=None,
            vendor_id=None,
            vendor_error_code=None,
            at=parse_timestamp(p["timestamp"]),
        )
        await self.messages.status(write, self.charger.ocpp_id)
        return {}

    # -- C authorization --------------------------------------------------------------

    async def authorize(self, p: Payload) -> Payload:
        return {"idTokenInfo": id_token_info_json(await self._id_token(p["idToken"]))}

    async def _id_token(self, token: Payload) -> IdTagInfo:
        if token["type"] == NO_AUTHORIZATION:
            return IdTagInfo("Accepted")
        info = await self.messages.authorize(token["idToken"], self.charger)
        if info.status not in ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"):
            return IdTagInfo("Unknown")
        return info

    # -- E transactions, J meter values -----------------------------------------------

    async def transaction_event(self, p: Payload) -> Payload:
        info = p["transactionInfo"]
        evse = p.get("evse") or {}
        token = p.get("idToken")
        id_tag = None
        if token is not None and token["type"] != NO_AUTHORIZATION:
            id_tag = token["idToken"]
        write = TxEventWrite(
            charger_id=self.charger.id,
            event_type=p["eventType"],
            transaction_id=info["transactionId"],
            seq_no=bounded(p["seqNo"], "seqNo"),
            trigger_reason=p["triggerReason"],
            timestamp=parse_timestamp(p["timestamp"]),
            evse_number=bounded_or_none(evse.get("id"), "evse.id"),
            connector_id=bounded_or_none(evse.get("connectorId"), "evse.connectorId"),
            id_tag=id_tag,
            charging_state=info.get("chargingState"),
            stopped_reason=info.get("stoppedReason"),
            remote_start_id=bounded_or_none(
                info.get("remoteStartId"), "transactionInfo.remoteStartId", INT_START
            ),
            offline=bool(p.get("offline", False)),
            samples=parse_meter_values(p.get("meterValue") or ()),
        )
        result = await self.messages.transaction_event(write, self.charger.ocpp_id)
        if token is None:
            return {}
        if token["type"] == NO_AUTHORIZATION:
            return {"idTokenInfo": {"status": "Accepted"}}
        status = result.id_tag_info or IdTagInfo("Invalid")
        return {"idTokenInfo": id_token_info_json(status)}

    async def meter_values(self, p: Payload) -> Payload:
        write = MeterWrite(
            charger_id=self.charger.id,
            connector_id=bounded(p["evseId"], "evseId"),
            transaction_id=None,
            samples=parse_meter_values(p["meterValue"]),
        )
        await self.messages.meter_values(write, self.charger.ocpp_id)
        return {}

    # -- K smart charging -------------------------------------------------------------

    async def notify_ev_charging_needs(self, p: Payload) -> Payload:
        needs = p["chargingNeeds"]
        ac = needs.get("acChargingParameters") or {}
        dc = needs.get("dcChargingParameters") or {}
        departure = needs.get("departureTime")
        energy = ac.get("energyAmount", dc.get("energyAmount"))
        write = EvNeedsWrite(
            charger_id=self.charger.id,
            evse_number=bounded(p["evseId"], "evseId"),
            departure_time=parse_timestamp(departure, "departureTime") if departure else None,
            energy_wanted_wh=float(energy) if energy is not None else None,
            ev_max_current=float(ac["evMaxCurrent"]) if "evMaxCurrent" in ac else None,
        )
        await self.messages.notice(self.charger, "NotifyEVChargingNeeds", p)
        await self.messages.ev_needs(write, self.charger.ocpp_id)
        # Accepted: a schedule follows (ours are the load manager's TxProfiles).
        return {"status": "Accepted"}

    async def notify_charging_limit(self, p: Payload) -> Payload:
        """A limit set on the station from outside (an EMS, the grid operator): an input
        to the load manager, which plans no more than it on the EVSE (or the station)."""
        # Checked before anything is kept: a refused message leaves nothing behind.
        evse = bounded_or_none(p.get("evseId"), "evseId")
        amps = external_amps(p.get("chargingSchedule") or ())
        await self.messages.notice(self.charger, "NotifyChargingLimit", p)
        if amps is not None:
            source = p["chargingLimit"]["chargingLimitSource"]
            write = ExternalLimitWrite(self.charger.id, evse, amps, source)
            await self.messages.external_limit(write, self.charger.ocpp_id)
        return {}

    async def cleared_charging_limit(self, p: Payload) -> Payload:
        evse = bounded_or_none(p.get("evseId"), "evseId")
        await self.messages.notice(self.charger, "ClearedChargingLimit", p)
        write = ExternalLimitWrite(self.charger.id, evse, None, p["chargingLimitSource"])
        await self.messages.external_limit(write, self.charger.ocpp_id)
        return {}

    async def notify_ev_charging_schedule(self, p: Payload) -> Payload:
        await self.messages.notice(self.charger, "NotifyEVChargingSchedule", p)
        return {"status": "Accepted"}

    # -- P data transfer, A security (certificates are issue 13's) -------------------

    def csr_refused(self, verdict: CsrVerdict) -> Payload:
        info: dict[str, str] = {"reasonCode": (verdict.reason or "Rejected")[:20]}
        if verdict.detail:
            info["additionalInfo"] = verdict.detail[:512]
        return {"status": "Rejected", "statusInfo": info}

    async def ev_certificate(self, p: Payload) -> Payload:
        return {"status": "Failed", "exiResponse": ""}

    async def certificate_status(self, p: Payload) -> Payload:
        return {"status": "Failed"}
