from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from chargegrid.api.schemas.common import Number, ReadModel, Timestamp, WriteModel
from chargegrid.domain.deadline_sources import MAX_ENERGY_WH


class MeterValueOut(ReadModel):
    id: int
    timestamp: datetime
    evse_number: int
    measurand: str
    phase: str | None
    unit: str | None
    value: float
    context: str | None
    location: str | None


class SessionOut(ReadModel):
    id: uuid.UUID
    charger_id: uuid.UUID
    evse_number: int
    connector_id: int | None
    transaction_id: int | None
    remote_transaction_id: str | None
    id_tag: str | None
    # Open and accepted: it gets current and keeps its id tag busy.
    active: bool
    # The idTagInfo status StartTransaction was answered with; anything but Accepted is
    # a refused start, recorded with its transaction id but never active.
    authorization_status: str
    # Active on a charger offline for longer than session_suspect_after_s.
    suspect: bool
    meter_start: float | None
    meter_stop: float | None
    energy_wh: float
    started_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    # Who ended it through POST /sessions/{id}/actions/end, and why.
    ended_by: str | None
    end_reason: str | None
    priority: float | None
    phases_used: int | None
    ev_max_current: float | None
    # The deadline the load manager plans with (departure_at; departure_time is its
    # older name) and where each part came from: api | charger | id_tag_default |
    # predicted, with 0..1 confidence (docs/deadlines.md).
    departure_time: datetime | None
    departure_at: datetime | None
    departure_source: DeadlineSourceName | None
    departure_confidence: float | None
    energy_wanted_wh: float | None
    energy_wanted_source: DeadlineSourceName | None
    soc: float | None


class SessionDetail(SessionOut):
    meter_values: list[MeterValueOut]


DeadlineSourceName = Literal["api", "charger", "id_tag_default", "predicted"]


class SessionDeadlineUpdate(WriteModel):
    """What is sent is set (source ``api``); null clears the API's value, and the next
    source's (the car's, the id tag's default, a prediction) takes over."""

    departure_at: Timestamp | None = Field(
        default=None,
        description="When the car leaves (RFC 3339 with an offset); in the future while "
        "the session is active, after its start",
    )
    energy_wanted_wh: Annotated[Number, Field(gt=0, le=MAX_ENERGY_WH)] | None = Field(
        default=None, description="Energy the car wants in this session, Wh"
    )


class EndSession(WriteModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it is ended (audited)")


SessionStatus = Literal["active", "completed", "refused"]


class SessionSummary(BaseModel):
    """Totals over every session a ``GET /sessions`` filter selects (not one page)."""

    count: int
    # Sessions by status (active, completed, refused); absent: none.
    by_status: dict[str, int]
    energy_wh: float
    energy_kwh: float
    # Plugged-in time: to the stop, to now while active, 0 for an open refused start.
    duration_s: float
    first_started_at: datetime | None
    last_started_at: datetime | None
