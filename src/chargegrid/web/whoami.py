"""``GET /api/v1/auth/me``: the caller's role and sites, so a client offers only what works.

The dashboard needs it to hide forms a role may not use; the API stays the judge (403).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chargegrid.api.deps import Who
from chargegrid.api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["auth"], responses=PROBLEM_RESPONSES)


class Me(BaseModel):
    role: str = Field(description="admin | service | owner | viewer")
    site_ids: list[uuid.UUID] | None = Field(description="the token's sites; null: all sites")


@router.get("/api/v1/auth/me", response_model=Me, summary="The caller's role and sites")
async def who_am_i(who: Who) -> Me:
    """The role and site scope of the token that signs the request, so a client offers
    only what that role may do (the API still refuses the rest with 403).

    Roles: viewer, owner, service, admin

    401 without a valid token.
    """
    sites = None if who.site_ids is None else sorted(who.site_ids, key=str)
    return Me(role=who.role.value, site_ids=sites)
