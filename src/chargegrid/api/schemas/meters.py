from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from chargegrid.api.schemas.common import (
    Integer,
    Name,
    NotNull,
    Number,
    ReadModel,
    Timestamp,
    Timestamps,
    WriteModel,
)

SignedAmps = Annotated[Number, Field(ge=-10000, le=10000)]


class MeterUpdate(WriteModel):
    name: Name = NotNull()
    max_age_s: Integer | None = Field(None, ge=1, le=86400, description="Older readings are stale")


class MeterCreate(MeterUpdate):
    name: Name
    site_id: uuid.UUID


class ReadingIn(WriteModel):
    timestamp: Timestamp
    current_l1: SignedAmps | None = None
    current_l2: SignedAmps | None = None
    current_l3: SignedAmps | None = None


class ReadingOut(ReadModel):
    id: int
    meter_id: uuid.UUID
    timestamp: datetime
    current_l1: float | None
    current_l2: float | None
    current_l3: float | None
    received_at: datetime


class MeterOut(Timestamps):
    id: uuid.UUID
    site_id: uuid.UUID
    name: str
    max_age_s: int
    last_reading: ReadingOut | None = None
