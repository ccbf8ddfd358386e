"""``GET /chargers/{id}/variables``: the 2.0.1 device model as the charger reported it.

Filled by NotifyReport (a GetBaseReport after each boot, or ``actions/get-base-report``),
GetVariables answers and SetVariables results; one row per component/variable/attribute
with its value, mutability and characteristics. A 1.6 charger has none: its
configuration keys are read with ``actions/get-configuration``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.services.configure.chargers import get_charger
from chargegrid.store.pagination import encode_cursor, id_after

router = make_router("chargers")


class VariableOut(BaseModel):
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    attribute_type: str
    value: str | None
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    data_type: str | None
    unit: str | None
    min_limit: str | None
    max_limit: str | None
    values_list: str | None
    supports_monitoring: bool | None
    source: str  # report | get | set: how we last heard of it
    status: str | None  # the last get/set's refusal (Rejected, UnknownVariable, ...)
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> VariableOut:
        return cls(
            component=row.component,
            component_instance=row.component_instance or None,
            evse_id=row.evse_id or None,
            connector_id=row.connector_id or None,
            variable=row.variable,
            variable_instance=row.variable_instance or None,
            attribute_type=row.attribute_type,
            value=row.value,
            mutability=row.mutability,
            persistent=row.persistent,
            constant=row.constant,
            data_type=row.data_type,
            unit=row.unit,
            min_limit=row.min_limit,
            max_limit=row.max_limit,
            values_list=row.values_list,
            supports_monitoring=row.supports_monitoring,
            source=row.source,
            status=row.status,
            updated_at=row.updated_at,
        )


Name = Annotated[str | None, Query(max_length=50)]


@router.get("/chargers/{charger_id}/variables", summary="List a charger's device model")
async def list_variables(
    charger_id: uuid.UUID,
    ctx: Ctx,
    component: Name = None,
    variable: Name = None,
    evse_id: Annotated[int | None, Query(ge=0, le=1000)] = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> ListOf[VariableOut]:
    """OCPP 2.0.1: the charger's device model as it last reported it, one row per
    component, variable and attribute (value, mutability, characteristics, and whether
    we heard it from a report, a GetVariables or a SetVariables), filtered by exact
    `component`, `variable` and `evse_id`; up to 500 rows a page. Filled by the
    GetBaseReport after each boot and by `actions/get-base-report`, `get-variables` and
    `set-variables`. A 1.6 charger has none (read its keys with
    `actions/get-configuration`).

    Roles: viewer, owner, service, admin

    404 for an unknown charger or one outside the token's sites. Reads only what is
    stored: nothing is sent to the charger.
    """
    charger = await get_charger(ctx, charger_id)
    after = id_after(cursor)
    rows = await ctx.uow.variables.page(charger.id, limit + 1, after, component, variable, evse_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return ListOf(
        data=[VariableOut.of(r) for r in rows],
        next_cursor=encode_cursor(str(rows[-1].id)) if more else None,
    )
