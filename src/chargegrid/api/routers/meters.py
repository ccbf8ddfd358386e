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


@router.post("/electricity-meters", status_code=201, summary="Add an electricity meter")
async def create_meter(body: MeterCreate, ctx: Ctx) -> MeterOut:
    """A meter of unmanaged load (the house, a heat pump) on a site: `name`, `site_id`,
    and `max_age_s` (default 60): a reading older than that is stale, and the node it
    measures falls back to its `offline_reserved_current`. Attach it to the site or a
    circuit with their `electricity_meter_id`.

    Roles: service, admin

    403 for owner and viewer. 404 for a `site_id` outside the token's sites. 422 names
    each bad field (a missing `name` or `site_id`, a site that does not exist). Audited
    and published as `config.changed`.
    """
    meter = await meters.create_meter(ctx, body.model_dump(exclude_unset=True))
    return await _out(ctx, meter)


@router.get("/electricity-meters", summary="List electricity meters")
async def list_meters(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[MeterOut]:
    """The meters of the token's sites (narrowed to `site_id`), each with its last
    reading, a page at a time.

    Roles: viewer, owner, service, admin
    """
    repo = ctx.uow.meters
    query = repo.select().where(in_scope(ctx.who, ElectricityMeter.site_id, site_id))
    page = await repo.page(query, limit, cursor)
    return ListOf(data=[await _out(ctx, m) for m in page.items], next_cursor=page.next_cursor)


@router.get("/electricity-meters/{meter_id}", summary="Get an electricity meter")
async def get_meter(meter_id: uuid.UUID, ctx: Ctx) -> MeterOut:
    """One meter with its last reading.

    Roles: viewer, owner, service, admin

    404 for an unknown meter or one on a site outside the token's sites.
    """
    return await _out(ctx, await meters.get_meter(ctx, meter_id))


@router.patch("/electricity-meters/{meter_id}", summary="Change an electricity meter")
async def update_meter(meter_id: uuid.UUID, body: MeterUpdate, ctx: Ctx) -> MeterOut:
    """Changes only the fields sent (`name`, `max_age_s`).

    Roles: service, admin

    403 for owner and viewer. 422 names each bad field. Audited and published as
    `config.changed`.
    """
    meter = await meters.update_meter(ctx, meter_id, body.model_dump(exclude_unset=True))
    return await _out(ctx, meter)


@router.delete(
    "/electricity-meters/{meter_id}", status_code=204, summary="Delete an electricity meter"
)
async def delete_meter(meter_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes the meter and its readings; sites and circuits that named it get
    `electricity_meter_id: null`.

    Roles: service, admin

    403 for owner and viewer. Audited and published as `config.changed` (deleted).
    """
    await meters.delete_meter(ctx, meter_id)
    return Response(status_code=204)


@router.post(
    "/electricity-meters/{meter_id}/readings", status_code=201, summary="Send a meter reading"
)
async def add_reading(meter_id: uuid.UUID, body: ReadingIn, ctx: Ctx) -> ReadingOut:
    """One reading: `timestamp` and the current per phase (`current_l1/2/3`, A). It is
    stored, then published on the bus as a meter reading: the load manager counts it
    as the unmanaged load of the site or circuit the meter is attached to and
    rebalances.

    Roles: owner, service, admin

    403 for a viewer. 404 for an unknown meter or one outside the token's sites. 422
    names each bad field. Not audited (a reading is data, not configuration).
    """
    currents = (body.current_l1, body.current_l2, body.current_l3)
    reading = await meters.add_reading(ctx, meter_id, body.timestamp, currents)
    return ReadingOut.model_validate(reading)
