"""Pure mappings between the simulator's version-free state and OCPP 2.0.1 payloads.

The shared physics keeps a charger's state in 1.6 words (connector status ``Charging``,
stop reason ``EVDisconnected``, sampled values with string values); a 2.0.1 station
says the same things differently. Everything here is a function of its arguments.
"""

from __future__ import annotations

from typing import Any

# Internal (1.6-style) connector status -> 2.0.1 connectorStatus.
CONNECTOR_STATUS: dict[str, str] = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}

# Internal connector status -> transactionInfo.chargingState (a car is plugged in).
_CHARGING_STATE: dict[str, str] = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "Preparing": "EVConnected",
    "Finishing": "EVConnected",
}

# Internal stop reason (what the shared code passes) -> (stoppedReason, triggerReason).
STOPS: dict[str, tuple[str, str]] = {
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "Remote": ("Remote", "RemoteStop"),
    "SoftReset": ("ImmediateReset", "ResetCommand"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
    "PowerLoss": ("PowerLoss", "AbnormalCondition"),
    "UnlockCommand": ("Other", "UnlockCommand"),
    "Local": ("Local", "StopAuthorized"),
}

# 2.0.1 chargingProfilePurpose -> the profile stack's (1.6) purpose. The CSMS may not set
# ChargingStationExternalConstraints (K01.FR.22), so it has no entry.
PURPOSES: dict[str, str] = {
    "ChargingStationMaxProfile": "ChargePointMaxProfile",
    "TxDefaultProfile": "TxDefaultProfile",
    "TxProfile": "TxProfile",
}
PURPOSES_BACK: dict[str, str] = {v: k for k, v in PURPOSES.items()}


def connector_status(status: str) -> str:
    return CONNECTOR_STATUS.get(status, "Unavailable")


def charging_state(status: str, plugged: bool) -> str:
    if not plugged:
        return "Idle"
    return _CHARGING_STATE.get(status, "EVConnected")


def stop(reason: str) -> tuple[str, str]:
    return STOPS.get(reason, ("Other", "AbnormalCondition"))


def sampled_values(values: list[dict[str, Any]], context: str) -> list[dict[str, Any]]:
    """1.6 sampledValue items (string values, ``unit``) as 2.0.1 ones (numbers,
    ``unitOfMeasure``, ``context``): the same reading, the same measurands."""
    out = []
    for v in values:
        item: dict[str, Any] = {
            "value": float(v["value"]),
            "context": context,
            "measurand": v["measurand"],
            "unitOfMeasure": {"unit": v["unit"]},
        }
        if "phase" in v:
            item["phase"] = v["phase"]
        out.append(item)
    return out


def meter_value(timestamp: str, values: list[dict[str, Any]], context: str) -> dict[str, Any]:
    return {"timestamp": timestamp, "sampledValue": sampled_values(values, context)}


def stack_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A 2.0.1 chargingProfile as the shared profile stack reads it (1.6 field names;
    the first schedule; periods keep ``phaseToUse``). KeyError: purpose not settable."""
    schedule = profile["chargingSchedule"][0]
    out: dict[str, Any] = {
        "chargingProfileId": profile["id"],
        "stackLevel": profile["stackLevel"],
        "chargingProfilePurpose": PURPOSES[profile["chargingProfilePurpose"]],
        "chargingProfileKind": profile["chargingProfileKind"],
        "chargingSchedule": {
            key: schedule[key]
            for key in ("chargingRateUnit", "chargingSchedulePeriod", "duration", "startSchedule")
            if key in schedule
        },
    }
    for key in ("recurrencyKind", "validFrom", "validTo", "transactionId"):
        if key in profile:
            out[key] = profile[key]
    return out


def boot_reason(down_reason: str) -> str:
    """Why the station boots after going down for ``down_reason`` (the shared code's)."""
    return "PowerUp" if down_reason == "PowerLoss" else "RemoteReset"
