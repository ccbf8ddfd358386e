"""The simulated station's device model: which components and variables it has, their
starting values and which of them the CSMS may change (docs/simulator.md lists them).

Each of the station's 1.6-style connectors is one EVSE with one connector (connectorId
1). Values that describe what is (availability, installed profiles, power) are read
live from the station; what a CSMS sets is stored and, where the simulator models it,
obeyed (HeartbeatInterval, TxUpdatedInterval, SampledDataCtrlr.Enabled,
BasicAuthPassword on the next connection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.sim.profiles import MAX_STACK_LEVEL
from chargegrid.sim.state import ChargerSpec
from chargegrid.sim.v201.device_model import Variable

MEASURANDS = "Current.Import,Power.Active.Import,Energy.Active.Import.Register,SoC,Current.Offered"
TX_MEASURANDS = "Energy.Active.Import.Register,Current.Import,Power.Active.Import,SoC"
PERIODS_PER_SCHEDULE = 24
MAX_PROFILES = 16


@dataclass(frozen=True)
class LiveReads:
    """What the device model reads from the station when asked."""

    availability: Callable[[int | None], str]  # AvailabilityState of an EVSE, None: station
    profiles_installed: Callable[[], int]


def _var(
    mutability: str,
    component: str,
    name: str,
    value: str,
    data_type: str,
    *,
    evse: int | None = None,
    connector: int | None = None,
    instance: str | None = None,
    unit: str | None = None,
    values_list: str | None = None,
    reboot_required: bool = False,
    others: dict[str, str] | None = None,
) -> Variable:
    return Variable(
        component,
        name,
        value,
        data_type,
        mutability,
        evse=evse,
        connector=connector,
        instance=instance,
        unit=unit,
        values_list=values_list,
        reboot_required=reboot_required,
        others=others or {},
    )


def _rw(component: str, name: str, value: str, data_type: str, **kw: Any) -> Variable:
    return _var("ReadWrite", component, name, value, data_type, **kw)


def _ro(component: str, name: str, value: str, data_type: str, **kw: Any) -> Variable:
    return _var("ReadOnly", component, name, value, data_type, **kw)


def station_variables(spec: ChargerSpec, live: LiveReads) -> list[Variable]:
    rotations = [str(spec.rotation(n)) for n in range(1, spec.connectors + 1)]
    out = [
        _ro("ChargingStation", "Model", spec.model, "string"),
        _ro("ChargingStation", "VendorName", spec.vendor, "string"),
        _ro("ChargingStation", "SupplyPhases", str(spec.phases), "integer"),
        _ro("ChargingStation", "Available", "true", "boolean"),
        Variable(
            "ChargingStation",
            "AvailabilityState",
            data_type="OptionList",
            values_list="Available,Occupied,Reserved,Unavailable,Faulted",
            read=lambda: live.availability(None),
        ),
        _rw("OCPPCommCtrlr", "HeartbeatInterval", "300", "integer", unit="s"),
        _rw("OCPPCommCtrlr", "OfflineThreshold", "60", "integer", unit="s"),
        _rw("OCPPCommCtrlr", "ResetRetries", "1", "integer"),
        _rw("OCPPCommCtrlr", "WebSocketPingInterval", "30", "integer", unit="s"),
        _rw("OCPPCommCtrlr", "NetworkConfigurationPriority", "0", "string", reboot_required=True),
        _rw("OCPPCommCtrlr", "MessageTimeout", "30", "integer", unit="s", instance="Default"),
        _rw("SampledDataCtrlr", "Enabled", "true", "boolean"),
        _rw("SampledDataCtrlr", "TxUpdatedInterval", "60", "integer", unit="s"),
        _rw(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            TX_MEASURANDS,
            "MemberList",
            values_list=MEASURANDS,
        ),
        _rw(
            "SampledDataCtrlr",
            "TxStartedMeasurands",
            "Energy.Active.Import.Register",
            "MemberList",
            values_list=MEASURANDS,
        ),
        _rw(
            "SampledDataCtrlr",
            "TxEndedMeasurands",
            "Energy.Active.Import.Register",
            "MemberList",
            values_list=MEASURANDS,
        ),
        _rw("SampledDataCtrlr", "TxEndedInterval", "0", "integer", unit="s"),
        _rw("AlignedDataCtrlr", "Enabled", "false", "boolean"),
        _rw("AlignedDataCtrlr", "Interval", "0", "integer", unit="s"),
        _rw(
            "AlignedDataCtrlr",
            "Measurands",
            "Energy.Active.Import.Register",
            "MemberList",
            values_list=MEASURANDS,
        ),
        _rw("SmartChargingCtrlr", "Enabled", "true", "boolean"),
        _ro("SmartChargingCtrlr", "Available", "true", "boolean"),
        Variable(
            "SmartChargingCtrlr",
            "Entries",
            data_type="integer",
            instance="ChargingProfiles",
            read=lambda: str(live.profiles_installed()),
            others={"MaxSet": str(MAX_PROFILES)},
        ),
        _ro("SmartChargingCtrlr", "ProfileStackLevel", str(MAX_STACK_LEVEL), "integer"),
        _ro("SmartChargingCtrlr", "RateUnit", "A,W", "MemberList", values_list="A,W"),
        _ro("SmartChargingCtrlr", "PeriodsPerSchedule", str(PERIODS_PER_SCHEDULE), "integer"),
        _rw("SmartChargingCtrlr", "LimitChangeSignificance", "1.0", "decimal", unit="Percent"),
        _rw("TxCtrlr", "EVConnectionTimeOut", "60", "integer", unit="s"),
        _ro("TxCtrlr", "TxStartPoint", "PowerPathClosed", "MemberList"),
        _ro("TxCtrlr", "TxStopPoint", "EVConnected,Authorized", "MemberList"),
        _ro("TxCtrlr", "StopTxOnEVSideDisconnect", "true", "boolean"),
        _ro("TxCtrlr", "StopTxOnInvalidId", "true", "boolean"),
        _rw("AuthCtrlr", "Enabled", "true", "boolean"),
        _ro("AuthCtrlr", "AuthorizeRemoteStart", "false", "boolean"),
        _ro("AuthCtrlr", "LocalAuthorizeOffline", "true", "boolean"),
        _ro("AuthCtrlr", "LocalPreAuthorize", "false", "boolean"),
        Variable("SecurityCtrlr", "BasicAuthPassword", spec.password or "", "string", "WriteOnly"),
        _ro("SecurityCtrlr", "SecurityProfile", "1", "integer"),
        _ro("SecurityCtrlr", "Identity", spec.ocpp_id, "string"),
        _rw("SecurityCtrlr", "OrganizationName", "chargegrid", "string"),
        _ro("DeviceDataCtrlr", "ItemsPerMessage", "10", "integer", instance="GetReport"),
        _ro("DeviceDataCtrlr", "ItemsPerMessage", "20", "integer", instance="GetVariables"),
        _ro("DeviceDataCtrlr", "ItemsPerMessage", "20", "integer", instance="SetVariables"),
        _ro("DeviceDataCtrlr", "BytesPerMessage", "65000", "integer", instance="GetReport"),
        _ro("DeviceDataCtrlr", "BytesPerMessage", "65000", "integer", instance="GetVariables"),
        _ro("DeviceDataCtrlr", "BytesPerMessage", "65000", "integer", instance="SetVariables"),
    ]
    for n in range(1, spec.connectors + 1):
        out.extend(_evse_variables(spec, n, rotations[n - 1], live))
    return out


def _evse_variables(spec: ChargerSpec, n: int, rotation: str, live: LiveReads) -> list[Variable]:
    max_w = spec.max_current * spec.phases * DEFAULT_NOMINAL_VOLTAGE
    switching = spec.ac_phase_switching and spec.phases == 3
    return [
        Variable(
            "EVSE",
            "AvailabilityState",
            data_type="OptionList",
            values_list="Available,Occupied,Reserved,Unavailable,Faulted",
            evse=n,
            read=lambda: live.availability(n),
        ),
        _ro("EVSE", "Available", "true", "boolean", evse=n),
        _ro("EVSE", "SupplyPhases", str(spec.phases), "integer", evse=n),
        _rw("EVSE", "PhaseRotation", rotation, "string", evse=n),
        _ro(
            "EVSE",
            "Power",
            f"{max_w:.0f}",
            "decimal",
            evse=n,
            unit="W",
            others={"MaxSet": f"{max_w:.0f}"},
        ),
        _ro("Connector", "ConnectorType", "cType2", "string", evse=n, connector=1),
        _ro("Connector", "SupplyPhases", str(spec.phases), "integer", evse=n, connector=1),
        _ro("Connector", "Available", "true", "boolean", evse=n, connector=1),
        _ro(
            "SmartChargingCtrlr",
            "ACPhaseSwitchingSupported",
            "true" if switching else "false",
            "boolean",
            evse=n,
        ),
    ]
