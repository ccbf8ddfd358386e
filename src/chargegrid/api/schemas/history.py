"""The load history's answers (``GET .../load/history``; docs/api.md "Load history").

Each point is a bucket of ``step`` seconds starting at ``t``: the time-weighted
averages where the live view (docs/load-api.md) has one value, and the largest value
that stood in the bucket under ``max``. ``coverage_s`` says how many of its seconds had
data (a gap, e.g. the server was down, is a missing point or a short coverage).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class PhaseValues(BaseModel):
    limit: float | None = Field(description="A: what the node may carry on this phase")
    allocated: float | None = Field(description="A: what the load manager gave its chargers")
    measured: float | None = Field(description="A: what a meter measured, if there is one")
    unmanaged: float | None = Field(description="A: load the load manager does not control")


class NodeValues(BaseModel):
    l1: PhaseValues
    l2: PhaseValues
    l3: PhaseValues


class NodePoint(BaseModel):
    t: datetime
    coverage_s: int
    phases: NodeValues = Field(description="Averages over the bucket")
    max: NodeValues = Field(description="The largest values in the bucket")


class NodeHistory(BaseModel):
    kind: Literal["site", "circuit"]
    id: uuid.UUID
    site_id: uuid.UUID
    from_: datetime = Field(alias="from", description="Start of the first bucket")
    to: datetime
    step: int = Field(description="Seconds per point (may be coarser than asked; see docs)")
    resolution: int = Field(description="The stored resolution the points were made from")
    points: list[NodePoint]


class Measured(BaseModel):
    l1: float | None
    l2: float | None
    l3: float | None


class SessionValues(BaseModel):
    limit: float | None = Field(description="A per phase the load manager set")
    phases: float | None = Field(description="Phases it was allowed to charge on")
    measured: Measured = Field(description="A per grid phase, as the charger reported")
    power_w: float | None = Field(description="W, as the charger reported (10 W steps)")


class SessionPoint(SessionValues):
    t: datetime
    coverage_s: int
    max: SessionValues = Field(description="The largest values in the bucket")


class SessionHistory(BaseModel):
    kind: Literal["session"] = "session"
    id: uuid.UUID
    site_id: uuid.UUID
    from_: datetime = Field(alias="from")
    to: datetime
    step: int
    resolution: int
    points: list[SessionPoint]
