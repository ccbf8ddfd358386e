from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chargegrid.api.schemas.common import ReadModel, WriteModel


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
    departure_time: datetime | None
    energy_wanted_wh: float | None
    soc: float | None


class SessionDetail(SessionOut):
    meter_values: list[MeterValueOut]


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
