"""Helpers the routers share: list parameters and site-scope filters."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, true

from chargegrid.api.problems import CHARGER_PROBLEM_RESPONSES, PROBLEM_RESPONSES
from chargegrid.services.auth import Principal

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]
SiteFilter = Annotated[uuid.UUID | None, Query(description="Only this site")]


def make_router(tag: str, *, commands_chargers: bool = False) -> APIRouter:
    """A resource's router; one whose routes command a charger documents 502 and 504."""
    responses = CHARGER_PROBLEM_RESPONSES if commands_chargers else PROBLEM_RESPONSES
    return APIRouter(tags=[tag], responses=responses)


def in_scope(who: Principal, column: Any, site_id: uuid.UUID | None) -> ColumnElement[bool]:
    """A WHERE clause: the caller's sites, narrowed to ``site_id`` when one is asked for."""
    clause: ColumnElement[bool] = true()
    if who.site_ids is not None:
        clause = column.in_(list(who.site_ids))
    if site_id is not None:
        clause = clause & (column == site_id)
    return clause
