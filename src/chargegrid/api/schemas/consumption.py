from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

By = Literal["site", "circuit", "charger", "id_tag"]


class ConsumptionRow(BaseModel):
    """Energy in one period for one key (the site, a circuit, a charger or an id tag).
    AMPECO's Sessions / Consumption Stats ``energy`` and ``power`` map to ``energy_wh``
    (also ``energy_kwh``) and ``average_power_w``."""

    period_start: datetime  # the site's local midnight (first of the month), with offset
    period_end: datetime
    circuit_id: uuid.UUID | None = None  # by=circuit (null: chargers on no circuit)
    circuit_name: str | None = None
    charger_id: uuid.UUID | None = None  # by=charger
    ocpp_id: str | None = None
    id_tag: str | None = None  # by=id_tag
    energy_wh: float
    energy_kwh: float
    # Sessions plugged in during the period (a session across midnight counts in both).
    sessions: int
    # Plugged-in time within the period, summed over sessions.
    duration_s: float
    # energy over plugged-in time (0 without any).
    average_power_w: float


class ConsumptionTotals(BaseModel):
    energy_wh: float
    energy_kwh: float
    sessions: int
    duration_s: float


class Consumption(BaseModel):
    site_id: uuid.UUID
    timezone: str
    group: Literal["day", "month"]
    by: By
    from_: datetime = Field(alias="from")
    to: datetime
    data: list[ConsumptionRow]
    # Over the whole window for the site (a circuit row includes its sub-circuits', so
    # circuit rows do not add up to this).
    totals: ConsumptionTotals

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
