"""The available-current override fields shared by sites and circuits."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chargegrid.api.schemas.common import Number, OverrideAmps, PerPhase
from chargegrid.domain.limits import Override
from chargegrid.services.configure.context import override_of
from chargegrid.store.models import AvailableCurrentOverride
from chargegrid.store.types import utcnow


class OverrideWrite(BaseModel):
    available_current: OverrideAmps | None = Field(
        None, description="Override on all phases; negative or null clears it."
    )
    available_current_phase1: OverrideAmps | None = None
    available_current_phase2: OverrideAmps | None = None
    available_current_phase3: OverrideAmps | None = None
    available_current_ttl_s: Number | None = Field(
        None, gt=0, le=10 * 365 * 86400, description="Seconds until the override lapses."
    )


class OverrideRead(BaseModel):
    available_current: float | None
    available_current_phase1: float | None
    available_current_phase2: float | None
    available_current_phase3: float | None
    available_current_expires_at: datetime | None
    effective_available_current: PerPhase


def override_fields(node: AvailableCurrentOverride, max_current: float) -> dict[str, object]:
    """The read view of a node's override; an expired one reads as none."""
    now = utcnow()
    override = override_of(node)
    effective = override.effective(max_current, now)
    live = override if override.active(now) else Override()
    return {
        "available_current": live.common_value,
        "available_current_phase1": live.phases[0],
        "available_current_phase2": live.phases[1],
        "available_current_phase3": live.phases[2],
        "available_current_expires_at": live.expires_at,
        "effective_available_current": PerPhase(l1=effective.l1, l2=effective.l2, l3=effective.l3),
    }
