from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from chargegrid.api.schemas.common import (
    Integer,
    NotNull,
    Number,
    Timestamp,
    Timestamps,
    WriteModel,
)
from chargegrid.domain.deadline_sources import MAX_DWELL_S, MAX_ENERGY_WH

TagText = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[\x21-\x7e]+$")]
TagStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]
TimeOfDay = Annotated[
    str,
    Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        examples=["17:30"],
        description="A local time of day (the site's time zone), HH:MM",
    ),
]
DwellSeconds = Annotated[Integer, Field(ge=60, le=MAX_DWELL_S)]
EnergyWh = Annotated[Number, Field(gt=0, le=MAX_ENERGY_WH)]


class IdTagUpdate(WriteModel):
    id_tag: TagText = NotNull()
    status: TagStatus | None = None
    expires_at: Timestamp | None = None
    parent_id_tag: TagText | None = None
    site_id: uuid.UUID | None = None
    # Its sessions' deadline unless the API or the car says otherwise
    # (docs/deadlines.md): leaves at this local time, else after this long.
    default_departure_time: TimeOfDay | None = None
    default_dwell_s: DwellSeconds | None = None
    default_energy_wh: EnergyWh | None = None


class IdTagCreate(IdTagUpdate):
    id_tag: TagText


class IdTagOut(Timestamps):
    id: uuid.UUID
    id_tag: str
    status: str
    expires_at: datetime | None
    parent_id_tag: str | None
    site_id: uuid.UUID | None
    default_departure_time: str | None
    default_dwell_s: int | None
    default_energy_wh: float | None
