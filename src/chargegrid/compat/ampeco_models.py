"""AMPECO's request and response bodies (AMPECO.CHARGE public API, OpenAPI v3.110; the
seed page 002 is its ``PUT /public-api/resources/evses/v2.0/{evse}``).

camelCase as AMPECO writes it. Requests are Laravel's: unknown fields are ignored, and
fields AMPECO has but chargegrid does not model (tariffs, reservations, labels) are
accepted and ignored (docs/compat.md lists them); fields that would change how current
is shared and that chargegrid cannot honour are refused with 422 by ``ampeco_views``.
The enumerations here are AMPECO's vocabulary; the rules on the values (ranges,
rotations that fit the phases) are our own schemas' and services'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from chargegrid.api.schemas.common import Number

T = TypeVar("T")

Voltage = Literal["230", "380", "400", "480", "120", "208", "240", "110-130", "220-240", "277"]
Phases = Literal["single_phase", "three_phase", "split_phase"]
Rotation = Literal["RST", "RTS", "SRT", "STR", "TRS", "TSR"]
RotationLower = Literal["rst", "rts", "srt", "str", "trs", "tsr"]
ConnectedPhase = Literal["L1", "L2", "L3", "L1_L2", "L1_L3", "L2_L3"]
ConnectorType = Literal[
    "type1",
    "type2",
    "type3",
    "chademo",
    "ccs1",
    "ccs2",
    "catarc",
    "schuko",
    "nacs",
    "cee16",
    "cee32",
    "j1772",
    "inductive",
    "nema-5-20",
    "type-e-french",
    "type-g-british",
    "type-j-swiss",
    "avcon",
    "gb-t-ac",
    "gb-t-dc",
    "chaoji",
    "nema-6-30",
    "nema-6-50",
]
HardwareStatus = Literal[
    "available",
    "preparing",
    "charging",
    "suspendedEV",
    "suspendedEVSE",
    "finishing",
    "reserved",
    "unavailable",
    "faulted",
    "occupied",
]
# An id in a body: AMPECO's integer, or (chargegrid) the UUID.
Ref = StrictInt | StrictStr


class AmpecoBody(BaseModel):
    """Laravel takes the fields it knows and ignores the rest."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


# --- EVSEs ---------------------------------------------------------------------------------


class ConnectorIn(AmpecoBody):
    id: StrictInt = Field(description="The connector's id (its alias in chargegrid)")
    type: ConnectorType | None = None
    format: Literal["socket", "cable"] | None = None
    status: Literal["active", "enabled", "disabled"] | None = Field(
        None, description="A connector cannot be disabled on its own: disable the EVSE"
    )


class EvseReplaceV20(AmpecoBody):
    """``PUT /public-api/resources/evses/v2.0/{evse}`` (deprecated by AMPECO, still served)."""

    physicalReference: StrictStr
    type: Literal["ac", "dc"]
    maxVoltage: Voltage
    phases: Literal["single_phase", "three_phase"] | None
    networkId: StrictStr = Field(description="The OCPP EVSE / 1.6 connector id")
    status: Literal["active", "disabled", "out of order"]
    allowsReservation: StrictBool = Field(description="Accepted, not used")
    maxAmperage: Number | None = None
    maxPowerKw: Number | None = Field(None, description="kW")
    phaseRotation: RotationLower | Rotation | None = Field(
        None, description="v2.0 writes it lowercase; uppercase is taken too"
    )
    connectors: list[ConnectorIn] | None = Field(None, max_length=16)
    tariffGroupId: int | None = Field(None, description="Accepted, not used")
    externalId: str | None = Field(None, description="Accepted, not used")
    midMeterCertificationEndYear: int | None = Field(None, description="Accepted, not used")


class PowerOptions(AmpecoBody):
    maxPower: Number | None = Field(None, description="W (AMPECO writes Wh)")
    maxVoltage: Voltage | None = None
    maxAmperage: Number | None = None
    phases: Phases | None = None
    phaseRotation: Rotation | None = None
    connectedPhase: ConnectedPhase | None = Field(
        None, description="Single phase: the line it is on; wins over phaseRotation"
    )


class EvsePatch(AmpecoBody):
    """``PATCH .../evses/v2.1/{evse}`` and ``PATCH .../charge-points/v2.0/{cp}/evses/{evse}``:
    a field left out is unchanged."""

    physicalReference: StrictStr | None = None
    currentType: Literal["ac", "dc"] | None = None
    networkId: StrictStr | None = Field(None, description="The OCPP EVSE / 1.6 connector id")
    status: Literal["enabled", "disabled", "out of order"] | None = None
    powerOptions: PowerOptions | None = None
    label: str | None = Field(None, description="Accepted, not used")
    allowsReservation: bool | None = Field(None, description="Accepted, not used")
    bookingEnabled: bool | None = Field(None, description="Accepted, not used")
    tariffGroupId: int | None = Field(None, description="Accepted, not used")
    externalId: str | None = Field(None, description="Accepted, not used")
    midMeterCertificationEndYear: int | None = Field(None, description="Accepted, not used")


class ConnectorOut(BaseModel):
    id: int
    type: ConnectorType | None
    format: Literal["socket", "cable"]
    status: str


class PowerOptionsOut(BaseModel):
    maxPower: int | None = Field(description="W")
    maxVoltage: Voltage | None
    maxAmperage: float
    phases: Phases
    phaseRotation: Rotation | None = None
    connectedPhase: ConnectedPhase | None = None


class EvseV21(BaseModel):
    """An EVSE as v2.1 and the charge point's EVSE resource answer it. Its power options
    are its first connector's (a write sets them on every connector of the EVSE)."""

    id: int
    chargePointId: int
    physicalReference: str
    currentType: Literal["ac", "dc"]
    networkId: str
    status: Literal["enabled", "disabled"]
    allowsReservation: bool = False
    bookingEnabled: bool = False
    tariffGroupId: int | None = None
    roamingOperatorId: int | None = None
    powerOptions: PowerOptionsOut
    hardwareStatus: HardwareStatus | None
    chargingProfile: None = None
    connectors: list[ConnectorOut]
    evseId: str | None = Field(description="chargegrid: the eMI3 EVSE ID, if set")
    createdAt: datetime
    lastUpdatedAt: datetime


class EvseV20(BaseModel):
    """An EVSE as the deprecated v2.0 resource answers it (the seed page)."""

    id: int
    chargePointId: int
    physicalReference: str
    type: Literal["ac", "dc"]
    networkId: str
    status: Literal["active", "disabled"]
    allowsReservation: bool = False
    tariffGroupId: int | None = None
    maxPowerKw: float | None
    maxVoltage: Voltage | None
    maxAmperage: float
    phases: Literal["single_phase", "three_phase"] | None
    phaseRotation: RotationLower | None
    hardwareStatus: HardwareStatus | None
    chargingProfile: None = None
    roaming: None = None
    connectors: list[ConnectorOut]


class One(BaseModel, Generic[T]):
    data: T


# --- circuits ------------------------------------------------------------------------------


class LoadBalancingIntegration(AmpecoBody):
    id: int | None = None
    fields: Any = None


class CircuitPatch(AmpecoBody):
    """``PATCH /public-api/resources/circuits/v2.0/{circuit}``: a field left out is
    unchanged; null resets it (where AMPECO allows null)."""

    name: StrictStr | None = None
    parentCircuitId: Ref | None = Field(None, description="null: under the main fuse")
    phases: Phases | None = None
    phaseRotation: Rotation | None = Field(None, description="To the parent; three_phase")
    connectedPhase: ConnectedPhase | None = Field(None, description="single_phase: its line")
    electricalConfiguration: Literal["star", "delta"] | None = Field(
        None, description="Must match the site's network (star: TN/TT, delta: IT)"
    )
    maxCurrent: Number | None = Field(None, description="A per phase: the breaker")
    offlineReservedCurrent: Number | None = Field(
        None, description="A reserved for unmanaged load while the meter is offline"
    )
    electricityMeterId: Ref | None = Field(
        None, description="chargegrid's meter UUID (meters have no integer id)"
    )
    minChargePointCurrent: Number | None = Field(
        None, description="Not supported (a minimum is per charger here): only null"
    )
    loadBalancingIntegration: LoadBalancingIntegration | None = Field(
        None, description="Not supported: only null"
    )
    maxVoltage: Voltage | None = Field(None, description="Accepted, not used")
    setSessionLimitToZeroOnIdle: bool | None = Field(None, description="Accepted, not used")


class CircuitCreate(CircuitPatch):
    """``POST /public-api/resources/circuits/v2.0``. ``locationId`` (chargegrid) names the
    site of a circuit with no parent, unless the token is scoped to one site."""

    name: StrictStr
    phases: Phases
    maxCurrent: Number
    locationId: Ref | None = Field(None, description="chargegrid: the site (alias or UUID)")


class PhaseCurrent(BaseModel):
    phase: Literal["L1", "L2", "L3"]
    consumption: float | None = Field(description="A")
    lastUpdatedAt: datetime


class CircuitOut(BaseModel):
    id: int
    name: str
    locationId: int = Field(description="chargegrid: the site's alias")
    parentCircuitId: int | None
    phases: Literal["single_phase", "three_phase"]
    phaseRotation: Rotation | None
    connectedPhase: ConnectedPhase | None
    electricalConfiguration: Literal["star", "delta"]
    maxVoltage: Voltage | None = None
    maxCurrent: float
    minChargePointCurrent: None = None
    setSessionLimitToZeroOnIdle: bool = False
    electricityMeterId: str | None
    offlineReservedCurrent: float
    loadBalancingIntegration: None = None
    chargePointPriorities: None = None
    userPriorities: None = None
    socPriorities: None = None
    consumption: list[PhaseCurrent] | None = None
    unmanagedLoad: list[PhaseCurrent] | None = None


class Links(BaseModel):
    first: str | None
    last: str | None = None
    prev: str | None = None
    next: str | None


class Meta(BaseModel):
    path: str
    per_page: int
    next_cursor: str | None
    prev_cursor: str | None = None


class Listing(BaseModel, Generic[T]):
    data: list[T]
    links: Links
    meta: Meta


class AmpecoError(BaseModel):
    message: str
    errors: dict[str, list[str]] | None = Field(None, description="422: each field's messages")
