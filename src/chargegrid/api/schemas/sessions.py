from __future__ import annotations

import uuid
from datetime import datetime

from chargegrid.api.schemas.common import ReadModel


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
    active: bool
    meter_start: float | None
    meter_stop: float | None
    energy_wh: float
    started_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    priority: float | None
    phases_used: int | None
    ev_max_current: float | None
    departure_time: datetime | None
    energy_wanted_wh: float | None
    soc: float | None


class SessionDetail(SessionOut):
    meter_values: list[MeterValueOut]
