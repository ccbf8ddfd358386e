"""Our sites, circuits and chargers as Zaptec sees them (installation, circuit, charger).

Pure mapping from rows to ``zaptec_models``; the routes in ``zaptec.py`` load the rows.
Enumerations are Zaptec's where we know them and are served by ``GET /api/constants``,
so a client that looks them up reads ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from chargegrid.api.schemas.common import PerPhase
from chargegrid.api.schemas.overrides import override_fields
from chargegrid.compat import zaptec_models as z
from chargegrid.domain.status import OcppStatus, charger_status
from chargegrid.services.auth import Principal, Role
from chargegrid.store.models import Charger, Circuit, Site

# Zaptec's bit flags for what the caller may do; ours map onto them by what each allows.
USER_ROLES = {"None": 0, "User": 1, "Owner": 2, "Maintainer": 4, "Service": 8}
_ROLE_FLAGS = {
    Role.VIEWER: USER_ROLES["User"],
    Role.OWNER: USER_ROLES["User"] | USER_ROLES["Owner"],
    Role.SERVICE: USER_ROLES["User"] | USER_ROLES["Owner"] | USER_ROLES["Service"],
    Role.ADMIN: sum(USER_ROLES.values()),
}
NETWORK_TYPES = {"Unknown": 0, "IT_1_Phase": 1, "IT_3_Phase": 2, "TN_1_Phase": 3, "TN_3_Phase": 4}
# Our sites are 3-phase; TT is earthed at the load like TN, which is what a charger sees.
_NETWORK = {"IT": NETWORK_TYPES["IT_3_Phase"], "TN": NETWORK_TYPES["TN_3_Phase"]}
_NETWORK_TT = NETWORK_TYPES["TN_3_Phase"]
OPERATION_MODES = {
    "Unknown": 0,
    "Disconnected": 1,
    "Connected_Requesting": 2,
    "Connected_Charging": 3,
    "Connected_Finished": 5,
}
_MODE_OF_STATUS = {
    OcppStatus.AVAILABLE: "Disconnected",
    OcppStatus.RESERVED: "Disconnected",
    OcppStatus.PREPARING: "Connected_Requesting",
    OcppStatus.SUSPENDED_EV: "Connected_Requesting",
    OcppStatus.SUSPENDED_EVSE: "Connected_Requesting",
    OcppStatus.OCCUPIED: "Connected_Requesting",
    OcppStatus.CHARGING: "Connected_Charging",
    OcppStatus.FINISHING: "Connected_Finished",
}
# StateIds of GET /api/chargers/{id}/state (Zaptec's observation ids) that we can fill.
STATE_IDS = {
    "IsOnline": -2,
    "CurrentPhase1": 507,
    "CurrentPhase2": 508,
    "CurrentPhase3": 509,
    "ChargerMaxCurrent": 510,
    "ChargerMinCurrent": 511,
    "MaxPhases": 520,
    "ChargerOfflinePhase": 522,
    "ChargerOfflineCurrent": 523,
    "ChargeCurrentSet": 708,
    "ChargerOperationMode": 710,
    "InstallationId": 800,
}


def roles_of(who: Principal) -> int:
    return _ROLE_FLAGS[who.role]


def network_type(site: Site) -> int:
    return _NETWORK.get(site.network_type, _NETWORK_TT)


def installation(site: Site, who: Principal) -> z.Installation:
    override = override_fields(site, site.max_current)
    effective, common = override["effective_available_current"], override["available_current"]
    assert isinstance(effective, PerPhase) and isinstance(common, float | int | None)
    return z.Installation(
        Id=str(site.id),
        Name=site.name,
        Active=True,
        CurrentUserRoles=roles_of(who),
        NetworkType=network_type(site),
        MaxCurrent=site.max_current,
        AvailableCurrent=None if common is None else min(float(common), site.max_current),
        AvailableCurrentPhase1=effective.l1,
        AvailableCurrentPhase2=effective.l2,
        AvailableCurrentPhase3=effective.l3,
        MinPowerOfflineMode=site.offline_limit_to_min_current,
        ThreeToOnePhaseSwitchCurrent=site.three_to_one_phase_switch_current,
        TimeZoneName=site.timezone,
        CreatedOnDate=site.created_at,
        UpdatedOn=site.updated_at,
    )


def operating_mode(charger: Charger) -> int:
    """Zaptec's ChargerOperationMode from the charger's (or its EVSEs') OCPP status."""
    if not charger.online:
        return OPERATION_MODES["Unknown"]
    status = charger_status(charger.ocpp_status, (e.ocpp_status for e in charger.evses))
    try:
        name = _MODE_OF_STATUS.get(OcppStatus(status or ""), "Unknown")
    except ValueError:
        name = "Unknown"
    return OPERATION_MODES[name]


def charger(charger: Charger, site: Site | None, who: Principal) -> z.Charger:
    return z.Charger(
        Id=str(charger.id),
        Name=charger.ocpp_id,
        DeviceId=charger.ocpp_id,
        SerialNo=charger.serial_number,
        Active=charger.registration_status == "Accepted",
        IsOnline=charger.online,
        OperatingMode=operating_mode(charger),
        CurrentUserRoles=roles_of(who),
        CircuitId=str(charger.circuit_id or charger.site_id or ""),
        InstallationId=None if site is None else str(site.id),
        InstallationName=None if site is None else site.name,
        CreatedOnDate=charger.created_at,
        MaxChargeCurrent=charger.max_charge_current,
        MinChargeCurrent=charger.min_charge_current,
        MaxChargePhases=charger.max_charge_phases,
        OfflineChargeCurrent=charger.offline_charge_current,
        OfflineChargePhase=charger.offline_charge_phase,
        MeterValueInterval=charger.meter_value_interval,
    )


def hierarchy(
    site: Site, circuits: Iterable[Circuit], chargers: Iterable[Charger], who: Principal
) -> z.Hierarchy:
    """Every circuit (nested ones flat, naming their parent) with its chargers; chargers
    wired straight to the main fuse sit in a circuit named for it, whose Id is the
    installation's (Zaptec has no charger outside a circuit)."""
    by_circuit: dict[str, list[z.Charger]] = {}
    for c in chargers:
        view = charger(c, site, who)
        by_circuit.setdefault(view.CircuitId, []).append(view)
    out = [
        z.Circuit(
            Id=str(c.id),
            Name=c.name,
            ParentId=None if c.parent_id is None else str(c.parent_id),
            MaxCurrent=c.max_current,
            Chargers=by_circuit.pop(str(c.id), []),
        )
        for c in circuits
    ]
    main = by_circuit.pop(str(site.id), [])
    if main:
        out.insert(
            0,
            z.Circuit(
                Id=str(site.id),
                Name=f"{site.name} (main fuse)",
                ParentId=None,
                MaxCurrent=site.max_current,
                Chargers=main,
            ),
        )
    return z.Hierarchy(
        Id=str(site.id), Name=site.name, NetworkType=network_type(site), Circuits=out
    )


def state(
    charger: Charger, view: Mapping[str, Any] | None, at: datetime
) -> list[z.StateObservation]:
    """What we know of a charger now, as Zaptec's observations. Currents are the load
    manager's: ``ChargeCurrentSet`` the limit its sessions have, ``CurrentPhase1..3`` what
    they draw on the installation's phases L1..L3 (``GET /api/v1/sites/{id}/load``)."""
    values: dict[str, str] = {
        "IsOnline": "1" if charger.online else "0",
        "ChargerOperationMode": str(operating_mode(charger)),
        "ChargerMinCurrent": _number(charger.min_charge_current),
        "MaxPhases": str(charger.max_charge_phases),
        "ChargerOfflinePhase": str(charger.offline_charge_phase),
        "ChargerOfflineCurrent": _number(charger.offline_charge_current),
    }
    ratings = [c.max_amperage for e in charger.evses for c in e.connectors]
    caps = [v for v in (charger.max_charge_current, max(ratings, default=None)) if v is not None]
    if caps:
        values["ChargerMaxCurrent"] = _number(min(caps))
    if charger.site_id is not None:
        values["InstallationId"] = str(charger.site_id)
    sessions = [
        s for s in (view or {}).get("sessions", []) if s.get("charger_id") == str(charger.id)
    ]
    if view is not None:
        values["ChargeCurrentSet"] = _number(sum(float(s.get("limit") or 0.0) for s in sessions))
        for index, phase in enumerate(("l1", "l2", "l3"), start=1):
            drawn = [s["measured"].get(phase) for s in sessions if s.get("measured")]
            known = [float(d) for d in drawn if d is not None]
            if known:
                values[f"CurrentPhase{index}"] = _number(sum(known))
    return [
        z.StateObservation(
            ChargerId=str(charger.id), StateId=STATE_IDS[name], Timestamp=at, ValueAsString=value
        )
        for name, value in sorted(values.items(), key=lambda item: STATE_IDS[item[0]])
    ]


def _number(value: float) -> str:
    return f"{value:g}"
