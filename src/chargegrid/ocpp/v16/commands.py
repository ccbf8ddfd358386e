"""Commands (``services.charger_commands``) as OCPP 1.6 CALLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chargegrid.domain.errors import InvalidValue
from chargegrid.ocpp.schemas import central_system_actions
from chargegrid.services import charger_commands as c

VERSION = "1.6"
ID_TAG_MAX = 20
# 2.0.1's name for the charger-wide cap, accepted from callers who think in 2.0.1.
_PURPOSES = {"ChargingStationMaxProfile": "ChargePointMaxProfile"}


def encode(command: c.Command) -> tuple[str, dict[str, Any]]:
    """The CALL for ``command``; InvalidValue where 1.6 has no such message."""
    match command:
        case c.RemoteStart(id_tag=tag, evse_number=evse):
            return "RemoteStartTransaction", _with({"idTag": tag}, connectorId=evse)
        case c.RemoteStop(transaction_id=tx):
            if not isinstance(tx, int):
                raise InvalidValue.of("session_id", "not a 1.6 transaction")
            return "RemoteStopTransaction", {"transactionId": tx}
        case c.Reset(hard=hard, evse_number=evse):
            if evse:
                raise InvalidValue.of("evse_number", "OCPP 1.6 resets the whole charger only")
            return "Reset", {"type": "Hard" if hard else "Soft"}
        case c.Unlock(evse_number=evse):
            return "UnlockConnector", {"connectorId": evse}
        case c.ChangeAvailability(evse_number=evse, operative=operative):
            return "ChangeAvailability", {
                "connectorId": evse,
                "type": "Operative" if operative else "Inoperative",
            }
        case c.TriggerMessage(message=message, evse_number=evse):
            return "TriggerMessage", _with({"requestedMessage": message}, connectorId=evse)
        case c.SetChargingProfile(evse_number=evse, profile=profile):
            payload = profile.to_ocpp()
            payload["chargingProfilePurpose"] = _PURPOSES.get(
                payload["chargingProfilePurpose"], payload["chargingProfilePurpose"]
            )
            return "SetChargingProfile", {"connectorId": evse, "csChargingProfiles": payload}
        case c.ClearChargingProfile():
            purpose = command.purpose
            return "ClearChargingProfile", _with(
                {},
                id=command.profile_id,
                connectorId=command.evse_number,
                chargingProfilePurpose=_PURPOSES.get(purpose, purpose) if purpose else None,
                stackLevel=command.stack_level,
            )
        case c.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", _with({"vendorId": vendor}, messageId=message_id, data=data)
        case c.GetConfiguration(keys=keys):
            return "GetConfiguration", {"key": list(keys)} if keys else {}
        case c.ChangeConfiguration(key=key, value=value):
            return "ChangeConfiguration", {"key": key, "value": value}
        case c.SendLocalList(version=version, entries=entries):
            return "SendLocalList", {
                "listVersion": version,
                "updateType": "Full",
                # 1.6 id tags have at most 20 characters: longer ones cannot be its.
                "localAuthorizationList": [
                    {"idTag": e.id_tag, "idTagInfo": _tag_info(e)}
                    for e in entries
                    if len(e.id_tag) <= ID_TAG_MAX
                ],
            }
        case c.GetLocalListVersion():
            return "GetLocalListVersion", {}
        case c.GetVariables() | c.SetVariables() | c.GetBaseReport():
            raise InvalidValue.of(
                "action",
                "this charger speaks OCPP 1.6, which has no device model: use "
                "get-configuration / change-configuration",
            )
        case c.CertificateSigned(chain=chain):
            return "CertificateSigned", {"certificateChain": chain}
        case c.InstallCertificate(certificate_type=kind, certificate=pem):
            return "InstallCertificate", {
                "certificateType": _certificate_use(kind),
                "certificate": pem,
            }
        case c.GetInstalledCertificateIds(certificate_types=kinds):
            if len(kinds) != 1:
                raise InvalidValue.of(
                    "certificate_types", "OCPP 1.6 lists one certificate type per request"
                )
            return "GetInstalledCertificateIds", {"certificateType": _certificate_use(kinds[0])}
        case c.DeleteCertificate(hash_data=data):
            return "DeleteCertificate", {"certificateHashData": dict(data)}
        case c.TriggerCertificateRenewal():
            return "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        case c.Native(action=action, payload=payload, version=version):
            if version not in (None, VERSION):
                raise InvalidValue.of("version", f"this charger speaks OCPP {VERSION}")
            if action not in central_system_actions("v16"):
                raise InvalidValue.of("action", f"{action} is not a CSMS call in OCPP {VERSION}")
            return action, dict(payload)
    raise InvalidValue.of("action", f"{type(command).__name__} has no OCPP 1.6 form")


# The 1.6 security extension's CertificateUseEnumType, by 2.0.1's names.
_CERTIFICATE_USES = {
    c.CSMS_ROOT: "CentralSystemRootCertificate",
    "CentralSystemRootCertificate": "CentralSystemRootCertificate",
    c.MANUFACTURER_ROOT: c.MANUFACTURER_ROOT,
}


def _certificate_use(kind: str) -> str:
    use = _CERTIFICATE_USES.get(kind)
    if use is None:
        raise InvalidValue.of(
            "certificate_type",
            f"OCPP 1.6 chargers hold {c.CSMS_ROOT} and {c.MANUFACTURER_ROOT} only",
        )
    return use


def _tag_info(entry: c.AuthEntry) -> dict[str, Any]:
    return _with(
        {"status": entry.status},
        expiryDate=_time(entry.expires_at) if entry.expires_at else None,
        parentIdTag=entry.parent_id_tag,
    )


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _with(payload: dict[str, Any], **optional: Any) -> dict[str, Any]:
    payload.update({k: v for k, v in optional.items() if v is not None})
    return payload
