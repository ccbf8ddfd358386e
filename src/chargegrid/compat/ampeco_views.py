"""AMPECO's EVSEs and circuits to and from ours: pure renaming and unit conversion.

An AMPECO EVSE is our EVSE plus its connectors' wiring: ``currentType`` and
``powerOptions`` (phases, rotation or connected line, voltage, amperage, power) become
each connector's ``power_type``, ``phase_rotation``, ``max_voltage``, ``max_amperage``
and ``max_electric_power``. An AMPECO circuit is our circuit; its site is the parent's,
or ``locationId`` (chargegrid's addition). What comes out of here is checked by our own
schemas and services, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, get_args

from chargegrid.compat import ampeco_models as a
from chargegrid.domain.connectors import ConnectorStandard, PowerType
from chargegrid.domain.errors import InvalidValue
from chargegrid.store.models import Circuit, Connector, Evse

_VOLTAGES = frozenset(get_args(a.Voltage))
_VOLTS_OF_RANGE = {"110-130": 120.0, "220-240": 230.0}  # AMPECO's own OCPI mapping
# R, S, T are L1, L2, L3 (AMPECO's words for our rotation letters).
LINES = {"L1": "R", "L2": "S", "L3": "T", "L1_L2": "RS", "L1_L3": "RT", "L2_L3": "ST"}
_CONNECTED = {letters: line for line, letters in LINES.items()}
_POWER_OF_PHASES = {
    "single_phase": PowerType.AC_1_PHASE,
    "three_phase": PowerType.AC_3_PHASE,
    "split_phase": PowerType.AC_2_PHASE_SPLIT,
}
_PHASES_OF_POWER = {
    PowerType.AC_1_PHASE: "single_phase",
    PowerType.AC_2_PHASE: "split_phase",
    PowerType.AC_2_PHASE_SPLIT: "split_phase",
    PowerType.AC_3_PHASE: "three_phase",
    PowerType.DC: "three_phase",  # a DC charger's input is balanced over three phases
}
_CIRCUIT_PHASES = {"single_phase": 1, "three_phase": 3, "split_phase": 2}
S = ConnectorStandard
STANDARD_OF_TYPE: dict[str, ConnectorStandard] = {
    "type1": S.IEC_62196_T1,
    "j1772": S.IEC_62196_T1,
    "type2": S.IEC_62196_T2,
    "type3": S.IEC_62196_T3C,
    "chademo": S.CHADEMO,
    "ccs1": S.IEC_62196_T1_COMBO,
    "ccs2": S.IEC_62196_T2_COMBO,
    "schuko": S.DOMESTIC_F,
    "nacs": S.TESLA_S,
    "cee16": S.IEC_60309_2_single_16,
    "cee32": S.IEC_60309_2_three_32,
    "nema-5-20": S.NEMA_5_20,
    "nema-6-30": S.NEMA_6_30,
    "nema-6-50": S.NEMA_6_50,
    "type-e-french": S.DOMESTIC_E,
    "type-g-british": S.DOMESTIC_G,
    "type-j-swiss": S.DOMESTIC_J,
    "gb-t-ac": S.GBT_AC,
    "gb-t-dc": S.GBT_DC,
    "chaoji": S.CHAOJI,
}
# j1772 and type1 are one plug; read back as type1.
_TYPE_OF_STANDARD = {std.value: t for t, std in reversed(STANDARD_OF_TYPE.items())}
_HARDWARE = {
    "Available": "available",
    "Preparing": "preparing",
    "Charging": "charging",
    "SuspendedEV": "suspendedEV",
    "SuspendedEVSE": "suspendedEVSE",
    "Finishing": "finishing",
    "Reserved": "reserved",
    "Unavailable": "unavailable",
    "Faulted": "faulted",
    "Occupied": "occupied",
}

# Our field -> AMPECO's, for the errors our schemas and services raise.
EVSE_NAMES_V21 = {
    "physical_reference": "physicalReference",
    "evse_number": "networkId",
    "enabled": "status",
    "power_type": "powerOptions.phases",
    "phase_rotation": "powerOptions.phaseRotation",
    "max_voltage": "powerOptions.maxVoltage",
    "max_amperage": "powerOptions.maxAmperage",
    "max_electric_power": "powerOptions.maxPower",
    "standard": "connectors.type",
    "format": "connectors.format",
}
EVSE_NAMES_V20 = {
    **{ours: theirs.removeprefix("powerOptions.") for ours, theirs in EVSE_NAMES_V21.items()},
    "max_electric_power": "maxPowerKw",
}
CIRCUIT_NAMES = {
    "parent_id": "parentCircuitId",
    "max_current": "maxCurrent",
    "phase_rotation": "phaseRotation",
    "electricity_meter_id": "electricityMeterId",
    "offline_reserved_current": "offlineReservedCurrent",
}


def volts(label: str) -> float:
    return _VOLTS_OF_RANGE.get(label) or float(label)


def voltage_label(value: float) -> str | None:
    label = f"{value:g}"
    return label if label in _VOLTAGES else None


# --- writes --------------------------------------------------------------------------------


def evse_fields(given: Mapping[str, Any]) -> dict[str, Any]:
    """Our EVSE fields from AMPECO's (``physicalReference``, ``networkId``, ``status``)."""
    out: dict[str, Any] = {}
    if "physicalReference" in given:
        out["physical_reference"] = given["physicalReference"]
    if "networkId" in given:
        number = given["networkId"]
        # Text for AMPECO, a number for OCPP: digits become the number, anything else is
        # left for our schema to refuse.
        digits = isinstance(number, str) and number.isascii() and number.isdigit()
        out["evse_number"] = int(number) if digits and len(number) < 10 else number
    if "status" in given:
        # "out of order" is AMPECO's operator-set status: the EVSE is taken out of
        # service like "disabled" (ChangeAvailability Inoperative), and reads "disabled".
        out["enabled"] = given["status"] in ("enabled", "active")
    return out


def connector_fields(given: Mapping[str, Any], connector: Connector) -> dict[str, Any]:
    """Our connector fields from AMPECO's flattened power options (``currentType``,
    ``phases``, ``phaseRotation``, ``connectedPhase``, ``maxVoltage``, ``maxAmperage``,
    ``maxPower`` in W); a field left out of ``given`` is left out here."""
    out: dict[str, Any] = {}
    old = PowerType(connector.power_type)
    power_type = old
    if "currentType" in given or "phases" in given:
        current = given.get("currentType") or ("dc" if old.is_dc else "ac")
        if current == "dc":
            power_type = PowerType.DC
        else:
            phases = given.get("phases") if "phases" in given else _PHASES_OF_POWER[old]
            power_type = _POWER_OF_PHASES.get(phases or "", PowerType.AC_3_PHASE)
            if old.is_dc and "phases" not in given:
                power_type = PowerType.AC_3_PHASE
        out["power_type"] = power_type.value
    if given.get("connectedPhase") is not None:
        out["phase_rotation"] = LINES[given["connectedPhase"]]
    elif "phaseRotation" in given:
        rotation = given["phaseRotation"]
        # A single-phase EVSE's line is its rotation's first letter (AMPECO's rule when
        # connectedPhase is not given); a split-phase one's, the first two.
        out["phase_rotation"] = (
            None if rotation is None else rotation.upper()[: power_type.phase_count]
        )
    elif "connectedPhase" in given:
        out["phase_rotation"] = None
    if "maxVoltage" in given:
        out["max_voltage"] = None if given["maxVoltage"] is None else volts(given["maxVoltage"])
    if "maxAmperage" in given:
        amps = given["maxAmperage"]
        out["max_amperage"] = int(amps) if isinstance(amps, float) and amps.is_integer() else amps
    if "maxPower" in given:
        out["max_electric_power"] = given["maxPower"]
    return out


def changed_only(obj: object, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` without those that hold their current value already: a full PUT that
    repeats a technical value unchanged needs no technical role (null is kept: a reset)."""
    return {k: v for k, v in fields.items() if v is None or getattr(obj, k) != v}


def circuit_fields(given: Mapping[str, Any], phases_now: int) -> dict[str, Any]:
    """Our circuit fields from AMPECO's (ids in ``parentCircuitId`` and
    ``electricityMeterId`` are resolved by the caller)."""
    unsupported = {
        "minChargePointCurrent": "not supported: the minimum current is per charger here "
        "(min_charge_current)",
        "loadBalancingIntegration": "not supported: chargegrid is the load balancer",
    }
    for name, reason in unsupported.items():
        value = given.get(name)
        if value is not None and (name != "loadBalancingIntegration" or value.get("id")):
            raise InvalidValue.of(name, reason)
    out: dict[str, Any] = {}
    for theirs, ours in (
        ("name", "name"),
        ("maxCurrent", "max_current"),
        ("offlineReservedCurrent", "offline_reserved_current"),
    ):
        if theirs in given:
            out[ours] = given[theirs]
    phases = phases_now
    if "phases" in given:
        out["phases"] = None if given["phases"] is None else _CIRCUIT_PHASES[given["phases"]]
        phases = out["phases"] or 3
    if given.get("connectedPhase") is not None:
        if phases == 3:
            raise InvalidValue.of("connectedPhase", "only for a single_phase circuit")
        out["phase_rotation"] = LINES[given["connectedPhase"]]
    elif "phaseRotation" in given:
        rotation = given["phaseRotation"]
        out["phase_rotation"] = None if rotation is None else rotation[:phases]
    return out


# --- reads ---------------------------------------------------------------------------------
# Built as dicts and validated into the models: the enumerations are checked at runtime.


def _connectors_out(evse: Evse, aliases: Mapping[Any, int]) -> list[dict[str, Any]]:
    return [
        {
            "id": aliases[c.id],
            "type": _TYPE_OF_STANDARD.get(c.standard),
            "format": "cable" if c.format == "CABLE" else "socket",
            "status": "enabled" if evse.enabled else "disabled",
        }
        for c in evse.connectors
    ]


def _power_options(connector: Connector | None) -> dict[str, Any]:
    """AMPECO's power options of a connector (the EVSE's first)."""
    if connector is None:
        return {"maxPower": None, "maxVoltage": None, "maxAmperage": 0.0, "phases": "three_phase"}
    power_type = PowerType(connector.power_type)
    three = power_type.phase_count == 3
    power = connector.max_electric_power
    return {
        "maxPower": None if power is None else int(power),
        "maxVoltage": voltage_label(connector.max_voltage),
        "maxAmperage": float(connector.max_amperage),
        "phases": _PHASES_OF_POWER[power_type],
        "phaseRotation": connector.phase_rotation if three else None,
        "connectedPhase": None if three else _CONNECTED.get(connector.phase_rotation),
        "currentType": "dc" if power_type.is_dc else "ac",
    }


def _evse_common(evse: Evse, aliases: Mapping[Any, int]) -> dict[str, Any]:
    return {
        "id": aliases[evse.id],
        "chargePointId": aliases[evse.charger_id],
        "physicalReference": evse.physical_reference or evse.evse_id or "",
        "networkId": str(evse.evse_number),
        "hardwareStatus": _HARDWARE.get(evse.ocpp_status or ""),
        "connectors": _connectors_out(evse, aliases),
    }


def evse_v21(evse: Evse, aliases: Mapping[Any, int]) -> a.EvseV21:
    options = _power_options(min(evse.connectors, key=lambda c: c.connector_id, default=None))
    current_type = options.pop("currentType", "ac")
    return a.EvseV21.model_validate(
        {
            **_evse_common(evse, aliases),
            "currentType": current_type,
            "status": "enabled" if evse.enabled else "disabled",
            "powerOptions": options,
            "evseId": evse.evse_id,
            "createdAt": evse.created_at,
            "lastUpdatedAt": evse.updated_at,
        }
    )


def evse_v20(evse: Evse, aliases: Mapping[Any, int]) -> a.EvseV20:
    options = _power_options(min(evse.connectors, key=lambda c: c.connector_id, default=None))
    power, rotation = options["maxPower"], options.get("phaseRotation")
    return a.EvseV20.model_validate(
        {
            **_evse_common(evse, aliases),
            "type": options.get("currentType", "ac"),
            "status": "active" if evse.enabled else "disabled",
            "maxPowerKw": None if power is None else power / 1000,
            "maxVoltage": options["maxVoltage"],
            "maxAmperage": options["maxAmperage"],
            # v2.0 knows no split phase: a 2-phase EVSE reads as single_phase there.
            "phases": "three_phase" if options["phases"] == "three_phase" else "single_phase",
            "phaseRotation": None if rotation is None else rotation.lower(),
        }
    )


def circuit_out(
    circuit: Circuit,
    aliases: Mapping[Any, int],
    network_type: str,
    node: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> a.CircuitOut:
    """A circuit; with ``node`` (its entry in the site's load view, computed ``at``) what
    it carries and its unmanaged load per phase (``include[]=consumption,unmanagedLoad``)."""
    single = circuit.phases == 1
    meter = circuit.electricity_meter_id
    out: dict[str, Any] = {
        "id": aliases[circuit.id],
        "name": circuit.name,
        "locationId": aliases[circuit.site_id],
        "parentCircuitId": None if circuit.parent_id is None else aliases[circuit.parent_id],
        "phases": "single_phase" if single else "three_phase",
        "phaseRotation": None if single else circuit.phase_rotation,
        "connectedPhase": _CONNECTED.get(circuit.phase_rotation) if single else None,
        "electricalConfiguration": "delta" if network_type == "IT" else "star",
        "maxCurrent": circuit.max_current,
        "electricityMeterId": None if meter is None else str(meter),
        "offlineReservedCurrent": circuit.offline_reserved_current,
    }
    if node is not None:
        for name, key in (("consumption", "measured"), ("unmanagedLoad", "unmanaged")):
            out[name] = [
                {"phase": f"L{i}", "consumption": node["phases"][f"l{i}"][key], "lastUpdatedAt": at}
                for i in (1, 2, 3)
            ]
    return a.CircuitOut.model_validate(out)
