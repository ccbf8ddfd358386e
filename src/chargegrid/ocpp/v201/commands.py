"""Commands (``services.charger_commands``) as OCPP 2.0.1 CALLs."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chargegrid.domain.errors import InvalidValue
from chargegrid.ocpp.charging_profiles import ChargingProfile
from chargegrid.ocpp.schemas import central_system_actions
from chargegrid.ocpp.v201.device_model import VariableRef
from chargegrid.services import charger_commands as c

VERSION = "2.0.1"
_PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
# 1.6 trigger names with a 2.0.1 equivalent.
_TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification"}
VARIABLES_HINT = (
    "this charger speaks OCPP 2.0.1, which has no configuration keys: read its device "
    "model at GET /chargers/{id}/variables, or use actions/get-variables and "
    "actions/set-variables"
)


def encode(command: c.Command) -> tuple[str, dict[str, Any]]:
    """The CALL for ``command``; InvalidValue where 2.0.1 has no such message."""
    match command:
        case c.RemoteStart(id_tag=tag, evse_number=evse, remote_start_id=rid):
            payload = {"idToken": {"idToken": tag, "type": "Central"}, "remoteStartId": rid}
            return "RequestStartTransaction", _with(payload, evseId=evse)
        case c.RemoteStop(transaction_id=tx):
            return "RequestStopTransaction", {"transactionId": str(tx)}
        case c.Reset(hard=hard, evse_number=evse):
            return "Reset", _with({"type": "Immediate" if hard else "OnIdle"}, evseId=evse)
        case c.Unlock(evse_number=evse, connector_id=connector):
            return "UnlockConnector", {"evseId": evse, "connectorId": connector}
        case c.ChangeAvailability(evse_number=evse, operative=operative, connector_id=conn):
            payload = {"operationalStatus": "Operative" if operative else "Inoperative"}
            if evse:
                payload["evse"] = _with({"id": evse}, connectorId=conn)
            return "ChangeAvailability", payload
        case c.TriggerMessage(message=message, evse_number=evse):
            payload = {"requestedMessage": _TRIGGERS.get(message, message)}
            if evse:
                payload["evse"] = {"id": evse}
            return "TriggerMessage", payload
        case c.SetChargingProfile(evse_number=evse, profile=profile):
            return "SetChargingProfile", {"evseId": evse, "chargingProfile": profile_201(profile)}
        case c.ClearChargingProfile():
            purpose = command.purpose
            criteria = _with(
                {},
                evseId=command.evse_number,
                chargingProfilePurpose=_PURPOSES.get(purpose, purpose) if purpose else None,
                stackLevel=command.stack_level,
            )
            payload = _with({}, chargingProfileId=command.profile_id)
            if criteria:
                payload["chargingProfileCriteria"] = criteria
            return "ClearChargingProfile", payload
        case c.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", _with({"vendorId": vendor}, messageId=message_id, data=data)
        case c.GetConfiguration() | c.ChangeConfiguration():
            raise InvalidValue.of("action", VARIABLES_HINT)
        case c.GetVariables(names=names):
            return "GetVariables", {"getVariableData": [_ref(n).get() for n in names]}
        case c.SetVariables(values=values):
            return "SetVariables", {"setVariableData": [_ref(n).set(v) for n, v in values]}
        case c.GetBaseReport(report_base=base, request_id=rid):
            return "GetBaseReport", {"requestId": rid, "reportBase": base}
        case c.SendLocalList(version=version, entries=entries):
            return "SendLocalList", {
                "versionNumber": version,
                "updateType": "Full",
                "localAuthorizationList": [
                    {"idToken": {"idToken": e.id_tag, "type": "Central"}, "idTokenInfo": _info(e)}
                    for e in entries
                ],
            }
        case c.GetLocalListVersion():
            return "GetLocalListVersion", {}
        case c.CertificateSigned(chain=chain, certificate_type=kind):
            return "CertificateSigned", {"certificateChain": chain, "certificateType": kind}
        case c.InstallCertificate(certificate_type=kind, certificate=pem):
            return "InstallCertificate", {"certificateType": kind, "certificate": pem}
        case c.GetInstalledCertificateIds(certificate_types=kinds):
            return "GetInstalledCertificateIds", {"certificateType": list(kinds)} if kinds else {}
        case c.DeleteCertificate(hash_data=data):
            return "DeleteCertificate", {"certificateHashData": dict(data)}
        case c.TriggerCertificateRenewal():
            return "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}
        case c.Native(action=action, payload=payload, version=version):
            if version not in (None, VERSION):
                raise InvalidValue.of("version", f"this charger speaks OCPP {VERSION}")
            if action not in central_system_actions("v201"):
                raise InvalidValue.of("action", f"{action} is not a CSMS call in OCPP {VERSION}")
            return action, dict(payload)
    raise InvalidValue.of("action", f"{type(command).__name__} has no OCPP 2.0.1 form")


def _ref(name: c.VariableName) -> VariableRef:
    return VariableRef(
        name.component,
        name.variable,
        name.attribute_type,
        name.component_instance,
        name.evse_id,
        name.connector_id,
        name.variable_instance,
    )


def profile_201(profile: ChargingProfile) -> dict[str, Any]:
    """A typed profile as 2.0.1 writes it: ``id``, a list of schedules, string tx ids."""
    one = profile.to_ocpp()  # 1.6 form; the fields are the same but for these
    schedule = dict(one["chargingSchedule"])
    schedule["id"] = profile.id
    out: dict[str, Any] = {
        "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _PURPOSES.get(profile.purpose, profile.purpose),
        "chargingProfileKind": profile.kind,
        "chargingSchedule": [schedule],
    }
    for key in ("recurrencyKind", "validFrom", "validTo"):
        if key in one:
            out[key] = one[key]
    if profile.transaction_id is not None:
        out["transactionId"] = str(profile.transaction_id)
    return out


def _info(entry: c.AuthEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"status": entry.status}
    if entry.expires_at is not None:
        out["cacheExpiryDateTime"] = (
            entry.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        )
    if entry.parent_id_tag is not None:
        out["groupIdToken"] = {"idToken": entry.parent_id_tag, "type": "Central"}
    return out


def _with(payload: dict[str, Any], **optional: Any) -> dict[str, Any]:
    payload.update({k: v for k, v in optional.items() if v is not None})
    return payload
