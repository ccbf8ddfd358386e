"""OCPP connector status and its OCPI mapping (API.md, after Spirii's table)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class OcppStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus (2.0.1 ConnectorStatus values map onto these)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"  # 2.0.1


class OcpiStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


_OCPI: dict[OcppStatus, OcpiStatus] = {
    OcppStatus.AVAILABLE: OcpiStatus.AVAILABLE,
    OcppStatus.RESERVED: OcpiStatus.RESERVED,
    OcppStatus.PREPARING: OcpiStatus.CHARGING,
    OcppStatus.CHARGING: OcpiStatus.CHARGING,
    OcppStatus.FINISHING: OcpiStatus.CHARGING,
    OcppStatus.OCCUPIED: OcpiStatus.CHARGING,
    OcppStatus.SUSPENDED_EV: OcpiStatus.BLOCKED,
    OcppStatus.SUSPENDED_EVSE: OcpiStatus.BLOCKED,
    OcppStatus.FAULTED: OcpiStatus.OUTOFORDER,
    OcppStatus.UNAVAILABLE: OcpiStatus.INOPERATIVE,
}


def to_ocpi(ocpp_status: str | None, online: bool = True) -> OcpiStatus:
    """OCPI status for an OCPP status; an offline charger or an unknown status is UNKNOWN."""
    if not online or ocpp_status is None:
        return OcpiStatus.UNKNOWN
    try:
        return _OCPI[OcppStatus(ocpp_status)]
    except ValueError:
        return OcpiStatus.UNKNOWN


def charger_status(own: str | None, evse_statuses: Iterable[str | None]) -> str | None:
    """The charger's status as a whole. A 1.6 charger reports it (connector 0); a 2.0.1
    station reports per connector only, so it is read from its EVSEs: Faulted or
    Unavailable when no EVSE that reported can serve (Faulted if one is faulted), else
    Available (the EVSEs say what each one does)."""
    if own is not None:
        return own
    known = {s for s in evse_statuses if s is not None}
    if not known:
        return None
    if known <= {OcppStatus.FAULTED.value, OcppStatus.UNAVAILABLE.value}:
        faulted = OcppStatus.FAULTED.value in known
        return (OcppStatus.FAULTED if faulted else OcppStatus.UNAVAILABLE).value
    return OcppStatus.AVAILABLE.value


# Statuses in which a car may draw current: the allocator plans for these sessions.
DRAWING_STATUSES = frozenset(
    {OcppStatus.CHARGING, OcppStatus.SUSPENDED_EV, OcppStatus.SUSPENDED_EVSE}
)
