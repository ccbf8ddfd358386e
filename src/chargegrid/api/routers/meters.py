from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, in_scope, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.api.schemas.meters import (
    MeterCreate,
    MeterOut,
    MeterUpdate,
    ReadingIn,
    ReadingOut,
)
from chargegrid.services.configure import meters
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.models import ElectricityMeter

router = make_router("electricity-meters")


async def _out(ctx: ConfigContext, meter: ElectricityMeter) -> MeterOut:
    last = await ctx.uow.meters.latest_reading(meter.id)
    out = MeterOut.model_validate(meter)
    out.last_reading = ReadingOut.model_validate(last) if last else None
    return out


@router.post("/electricity-meters", status_code=201)
async def create_meter(body: MeterCreate, ctx: Ctx) -> MeterOut:
    meter = await meters.create_meter(ctx, body.model_dump(exclude_unset=True))
    return await _out(ctx, meter)


@router.get("/electricity-meters")
async def list_meters(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[MeterOut]:
    repo = ctx.uow.meters
    query = repo.select().where(in_scope(ctx.who, ElectricityMeter.site_id, site_id))
    page = await repo.page(query, limit, cursor)
    return ListOf(data=[await _out(ctx, m) for m in page.items], next_cursor=page.next_cursor)


@router.get("/electricity-meters/{meter_id}")
async def get_meter(meter_id: uuid.UUID, ctx: Ctx) -> MeterOut:
    return await _out(ctx, await meters.get_meter(ctx, meter_id))


@router.patch("/electricity-meters/{meter_id}")
async def update_meter(meter_id: uuid.UUID, body: MeterUpdate, ctx: Ctx) -> MeterOut:
    meter = await meters.update_meter(ctx, meter_id, body.model_dump(exclude_unset=True))
    return await _out(ctx, meter)


@router.delete("/electricity-meters/{meter_id}", status_code=204)
async def delete_meter(meter_id: uuid.UUID, ctx: Ctx) -> Response:
    await meters.delete_meter(ctx, meter_id)
    return Response(status_code=204)


@router.post("/electricity-meters/{meter_id}/readings", status_code=201)
async def add_reading(meter_id: uuid.UUID, body: ReadingIn, ctx: Ctx) -> ReadingOut:
    currents = (body.current_l1, body.current_l2, body.current_l3)
    reading = await meters.add_reading(ctx, meter_id, body.timestamp, currents)
    return ReadingOut.model_validate(reading)
