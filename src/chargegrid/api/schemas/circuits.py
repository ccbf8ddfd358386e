from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from chargegrid.api.schemas.common import (
    Amps,
    Name,
    NotNull,
    Number,
    Rotation,
    Timestamps,
    WriteModel,
    columns_of,
)
from chargegrid.api.schemas.overrides import OverrideRead, OverrideWrite, override_fields
from chargegrid.store.models import Circuit


class CircuitUpdate(OverrideWrite, WriteModel):
    name: Name = NotNull()
    parent_id: uuid.UUID | None = Field(None, description="null: under the site's main fuse")
    max_current: Amps = NotNull(description="A per phase (service/admin)")
    phases: Literal[1, 3] | None = None
    phase_rotation: Rotation | None = Field(None, description="How L1..L3 land on the parent")
    electricity_meter_id: uuid.UUID | None = None
    offline_reserved_current: Amps | None = None
    priority: Number | None = Field(None, ge=0, le=1000)


class CircuitCreate(CircuitUpdate):
    name: Name
    max_current: Amps


class CircuitOut(OverrideRead, Timestamps):
    id: uuid.UUID
    site_id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    max_current: float
    phases: int
    phase_rotation: str
    electricity_meter_id: uuid.UUID | None
    offline_reserved_current: float
    priority: float

    @classmethod
    def of(cls, circuit: Circuit) -> CircuitOut:
        return cls.model_validate(
            {**columns_of(circuit), **override_fields(circuit, circuit.max_current)}
        )
