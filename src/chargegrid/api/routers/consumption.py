"""``GET /sites/{id}/consumption``: a site's energy per day or month, for the site or
per circuit, charger or id tag (AMPECO's Sessions / Consumption Stats and Circuits /
Consumption are the anchors; docs/api.md says how their fields map)."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Query

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.common import QueryTimestamp
from chargegrid.api.schemas.consumption import (
    By,
    Consumption,
    ConsumptionRow,
    ConsumptionTotals,
)
from chargegrid.domain.errors import InvalidValue
from chargegrid.services.configure.sites import get_site
from chargegrid.services.consumption import MAX_BUCKETS, Usage, distribute, periods
from chargegrid.store.consumption import SessionRow, site_circuits, site_sessions
from chargegrid.store.types import utcnow

router = make_router("consumption")
DEFAULT_SPAN = {"day": timedelta(days=31), "month": timedelta(days=366)}


@router.get("/sites/{site_id}/consumption", summary="A site's energy per day or month")
async def site_consumption(
    site_id: uuid.UUID,
    ctx: Ctx,
    window_from: Annotated[
        QueryTimestamp | None,
        Query(alias="from", description="Start (ISO 8601); default: 31 days / 12 months ago"),
    ] = None,
    window_to: Annotated[QueryTimestamp | None, Query(alias="to", description="End; now")] = None,
    group: Annotated[Literal["day", "month"], Query(description="Period length")] = "day",
    by: Annotated[By, Query(description="One row per period for the site, or per key")] = "site",
) -> Consumption:
    """Energy, sessions and plugged-in time per day or month in the site's time zone.
    Each session's energy is spread evenly over its plugged-in time, so one that runs
    past midnight counts in both days in proportion (energy from the session, or from
    its register samples while the session has none); only accepted sessions count.
    `by` gives one row per period for the site, or per circuit (a circuit's rows
    include its sub-circuits' chargers), charger or id tag; `totals` covers the window.
    Defaults: `to` now, `from` 31 days (day) or 366 days (month) before; at most 1,000
    periods. Fields and the AMPECO mapping: docs/api.md.

    Roles: viewer, owner, service, admin

    404 for an unknown site or one outside the token's sites. 422 names the bad
    parameter: a time without an offset, `to` not after `from`, too many periods.
    """
    site = await get_site(ctx, site_id)
    end = window_to or utcnow()
    start = window_from or end - DEFAULT_SPAN[group]
    if end <= start:
        raise InvalidValue.of("to", "must be after from")
    try:
        tz = ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")  # validated on write; an old row's unknown zone reads as UTC
    try:
        bounds = periods(start, end, group, tz)
    except ValueError as exc:
        raise InvalidValue.of("from", f"at most {MAX_BUCKETS} periods: {exc}") from exc
    rows = await site_sessions(ctx.uow.session, site.id, start, end)
    circuits = await site_circuits(ctx.uow.session, site.id)
    now = utcnow()
    usages = [
        Usage(r.started_at, r.stopped_at or now, r.energy_wh, _keys(r, by, circuits)) for r in rows
    ]
    buckets = distribute(usages, bounds, (start, end))
    totals = distribute(
        [Usage(u.started_at, u.ended_at, u.energy_wh, ("all",)) for u in usages],
        [start, end],
        (start, end),
    ).get((0, "all"))
    ocpp_ids = {r.charger_id: r.ocpp_id for r in rows}
    data = []
    for (index, key), bucket in sorted(
        buckets.items(), key=lambda item: (item[0][0], str(item[0][1]))
    ):
        row = ConsumptionRow(
            period_start=bounds[index].astimezone(tz),
            period_end=bounds[index + 1].astimezone(tz),
            energy_wh=round(bucket.energy_wh, 3),
            energy_kwh=round(bucket.energy_wh / 1000, 3),
            sessions=len(bucket.sessions),
            duration_s=round(bucket.duration_s, 3),
            average_power_w=round(bucket.energy_wh * 3600 / bucket.duration_s, 1)
            if bucket.duration_s
            else 0.0,
        )
        _label(row, by, key, circuits, ocpp_ids)
        data.append(row)
    return Consumption(
        site_id=site.id,
        timezone=str(tz),
        group=group,
        by=by,
        from_=start,
        to=end,
        data=data,
        totals=ConsumptionTotals(
            energy_wh=round(totals.energy_wh, 3) if totals else 0.0,
            energy_kwh=round(totals.energy_wh / 1000, 3) if totals else 0.0,
            sessions=len(totals.sessions) if totals else 0,
            duration_s=round(totals.duration_s, 3) if totals else 0.0,
        ),
    )


def _keys(
    row: SessionRow, by: By, circuits: dict[uuid.UUID, tuple[str, uuid.UUID | None]]
) -> tuple[Hashable, ...]:
    if by == "charger":
        return (row.charger_id,)
    if by == "id_tag":
        return (row.id_tag,)
    if by == "circuit":
        # The charger's circuit and every circuit above it (each carries the load).
        chain: list[Hashable] = []
        circuit = row.circuit_id
        while circuit is not None and circuit not in chain and circuit in circuits:
            chain.append(circuit)
            circuit = circuits[circuit][1]
        return tuple(chain) or (None,)
    return ("site",)


def _label(
    row: ConsumptionRow,
    by: By,
    key: Hashable,
    circuits: dict[uuid.UUID, tuple[str, uuid.UUID | None]],
    ocpp_ids: dict[uuid.UUID, str],
) -> None:
    if by == "charger" and isinstance(key, uuid.UUID):
        row.charger_id, row.ocpp_id = key, ocpp_ids.get(key)
    elif by == "id_tag":
        row.id_tag = key if isinstance(key, str) else None
    elif by == "circuit" and isinstance(key, uuid.UUID):
        row.circuit_id, row.circuit_name = key, circuits[key][0]


__all__ = ["router"]
