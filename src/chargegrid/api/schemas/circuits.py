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
    phasor_lines: bool | None = Field(
        None,
        description="Check this circuit's line limits on the phasor sum of its currents, "
        "so chargers wired line-to-line below it count what they really load (a 208 V "
        "network); false: per-phase sums of magnitudes (exact for line-to-neutral loads)",
    )
    transformer_ratio: Number | None = Field(
        None,
        gt=0,
        le=1000,
        description="A delta-wye transformer: primary winding voltage / secondary winding "
        "voltage (480 V / 120 V = 4); max_current then rates its secondary lines. Set "
        "with transformer_primary_current; null both: not a transformer",
    )
    transformer_primary_current: Amps | None = Field(
        None,
        description="A per primary line of the transformer; checked against the parent's "
        "rating instead of max_current",
    )


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
    phasor_lines: bool
    transformer_ratio: float | None
    transformer_primary_current: float | None

    @classmethod
    def of(cls, circuit: Circuit) -> CircuitOut:
        return cls.model_validate(
            {**columns_of(circuit), **override_fields(circuit, circuit.max_current)}
        )
