from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from chargegrid.api.schemas.common import (
    Amps,
    Name,
    NotNull,
    Number,
    Timestamps,
    TimeZone,
    WriteModel,
    columns_of,
)
from chargegrid.api.schemas.overrides import OverrideRead, OverrideWrite, override_fields
from chargegrid.store.models import Site

NetworkType = Literal["TN", "TT", "IT"]
Voltage = Annotated[float, Field(ge=50, le=1000)]
SwitchCurrent = Annotated[Number, Field(ge=6, le=32)]


class SiteUpdate(OverrideWrite, WriteModel):
    name: Name = NotNull()
    timezone: TimeZone | None = None
    network_type: NetworkType | None = None
    nominal_voltage: Voltage | None = Field(None, description="V line-to-neutral")
    max_current: Amps = NotNull(description="Main fuse, A per phase (service/admin)")
    offline_limit_to_min_current: bool | None = Field(None, strict=True)
    three_to_one_phase_switch_current: SwitchCurrent | None = None
    electricity_meter_id: uuid.UUID | None = None


class SiteCreate(SiteUpdate):
    name: Name
    max_current: Amps


class SiteOut(OverrideRead, Timestamps):
    id: uuid.UUID
    name: str
    timezone: str
    network_type: str
    nominal_voltage: float
    max_current: float
    offline_limit_to_min_current: bool
    three_to_one_phase_switch_current: float | None
    electricity_meter_id: uuid.UUID | None

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        return cls.model_validate({**columns_of(site), **override_fields(site, site.max_current)})
