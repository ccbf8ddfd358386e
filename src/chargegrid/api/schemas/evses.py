from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from chargegrid.api.schemas.common import (
    Integer,
    NotNull,
    Number,
    ReadModel,
    Rotation,
    WriteModel,
)
from chargegrid.domain.connectors import (
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    WiringSource,
)
from chargegrid.domain.status import OcpiStatus, to_ocpi
from chargegrid.store.models import Connector, Evse

ConnectorNumber = Annotated[Integer, Field(ge=1, le=1000)]
EvseNumber = Annotated[Integer, Field(ge=1, le=1000)]


class ConnectorUpdate(WriteModel):
    standard: ConnectorStandard | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    max_voltage: Number | None = Field(None, gt=0, le=2000)
    max_amperage: Integer | None = Field(None, ge=1, le=1000)
    max_electric_power: Number | None = Field(None, ge=0, le=10_000_000, description="W")
    phase_rotation: Rotation | None = Field(
        None, description="Must name as many phases as power_type has"
    )
    line_to_line: bool | None = Field(
        None,
        description="Wired between the two lines phase_rotation names, with no neutral "
        "(a 208 V charger; power_type AC_2_PHASE): its current loads both lines",
    )


class ConnectorCreate(ConnectorUpdate):
    connector_id: ConnectorNumber


class ConnectorOut(ReadModel):
    id: uuid.UUID
    charger_id: uuid.UUID
    evse_number: int
    connector_id: int
    standard: str
    format: str
    power_type: str
    max_voltage: float
    max_amperage: int
    max_electric_power: float | None
    phase_rotation: str
    line_to_line: bool
    wiring_source: WiringSource = Field(
        description="Who set power_type and phase_rotation: `default` (nobody yet), "
        "`charger` (learnt from its ConnectorPhaseRotation) or `operator` (this API; "
        "the charger's reports no longer change them)"
    )
    status: OcpiStatus
    ocpp_status: str | None
    error_code: str | None
    error_info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connector: Connector, evse_number: int, online: bool) -> ConnectorOut:
        return cls(
            id=connector.id,
            charger_id=connector.charger_id,
            evse_number=evse_number,
            connector_id=connector.connector_id,
            standard=connector.standard,
            format=connector.format,
            power_type=connector.power_type,
            max_voltage=connector.max_voltage,
            max_amperage=connector.max_amperage,
            max_electric_power=connector.max_electric_power,
            phase_rotation=connector.phase_rotation,
            line_to_line=connector.line_to_line,
            wiring_source=WiringSource(connector.wiring_source),
            status=to_ocpi(connector.ocpp_status, online),
            ocpp_status=connector.ocpp_status,
            error_code=connector.error_code,
            error_info=connector.error_info,
            vendor_id=connector.vendor_id,
            vendor_error_code=connector.vendor_error_code,
            created_at=connector.created_at,
            updated_at=connector.updated_at,
        )


class EvseUpdate(WriteModel):
    evse_number: EvseNumber = NotNull()
    evse_id: str | None = Field(None, max_length=48, description="eMI3, e.g. DK*123*E1")
    physical_reference: str | None = Field(None, max_length=100)
    enabled: bool | None = Field(None, strict=True)


class EvseCreate(EvseUpdate):
    evse_number: EvseNumber
    connectors: list[ConnectorCreate] = Field(default_factory=list, max_length=16)


class EvseOut(ReadModel):
    id: uuid.UUID
    charger_id: uuid.UUID
    evse_number: int
    evse_id: str | None
    physical_reference: str | None
    enabled: bool
    status: OcpiStatus
    ocpp_status: str | None
    error_code: str | None
    error_info: str | None
    vendor_error_code: str | None
    external_limit_a: float | None = Field(
        None, description="2.0.1 NotifyChargingLimit: A per phase set from outside, or null"
    )
    external_limit_source: str | None = None
    connectors: list[ConnectorOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, evse: Evse, online: bool) -> EvseOut:
        return cls(
            id=evse.id,
            charger_id=evse.charger_id,
            evse_number=evse.evse_number,
            evse_id=evse.evse_id,
            physical_reference=evse.physical_reference,
            enabled=evse.enabled,
            external_limit_a=evse.external_limit_a,
            external_limit_source=evse.external_limit_source,
            status=to_ocpi(evse.ocpp_status, online),
            ocpp_status=evse.ocpp_status,
            error_code=evse.error_code,
            error_info=evse.error_info,
            vendor_error_code=evse.vendor_error_code,
            connectors=[ConnectorOut.of(c, evse.evse_number, online) for c in evse.connectors],
            created_at=evse.created_at,
            updated_at=evse.updated_at,
        )
