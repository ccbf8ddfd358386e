"""Electricity meters of unmanaged load, and the readings that feed the load manager."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update

from chargegrid.domain.errors import InvalidValue
from chargegrid.events import METER_READING
from chargegrid.events import MeterReading as MeterFeed
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import Circuit, ElectricityMeter, MeterReading, Site

FIELDS = {"name": REQUIRED, "max_age_s": 60}


async def get_meter(ctx: ConfigContext, meter_id: uuid.UUID) -> ElectricityMeter:
    meter = found(await ctx.uow.meters.get(meter_id), "electricity meter")
    ctx.who.check_site(meter.site_id, "electricity meter")
    return meter


async def create_meter(ctx: ConfigContext, data: dict[str, Any]) -> ElectricityMeter:
    ctx.who.require_technical("electricity meters")
    for name in ("name", "site_id"):
        if data.get(name) is None:
            raise InvalidValue.of(name, "required")
    ctx.who.check_site(data["site_id"], "site")
    if await ctx.uow.sites.get(data["site_id"]) is None:
        raise InvalidValue.of("site_id", "no such site")
    meter = ElectricityMeter(id=uuid.uuid4(), site_id=data["site_id"], name=data["name"])
    assign(meter, with_defaults(data, FIELDS), FIELDS)
    ctx.uow.meters.add(meter)
    ctx.changed("electricity_meter", meter.id, meter.site_id, "created", data)
    await ctx.commit()
    return meter


async def update_meter(
    ctx: ConfigContext, meter_id: uuid.UUID, data: dict[str, Any]
) -> ElectricityMeter:
    meter = await get_meter(ctx, meter_id)
    ctx.who.require_technical("electricity meters")
    changed = assign(meter, data, FIELDS)
    await ctx.commit_update("electricity_meter", meter.id, meter.site_id, changed)
    return meter


async def delete_meter(ctx: ConfigContext, meter_id: uuid.UUID) -> None:
    meter = await get_meter(ctx, meter_id)
    ctx.who.require_technical("electricity meters")
    # Sites and circuits refer to meters without a foreign key (see store.models.Site).
    for table in (Site, Circuit):
        await ctx.uow.session.execute(
            update(table)
            .where(table.electricity_meter_id == meter.id)
            .values(electricity_meter_id=None)
        )
    await ctx.uow.meters.delete(meter)
    ctx.changed("electricity_meter", meter_id, meter.site_id, "deleted")
    await ctx.commit()


async def add_reading(
    ctx: ConfigContext,
    meter_id: uuid.UUID,
    timestamp: datetime,
    currents: tuple[float | None, float | None, float | None],
) -> MeterReading:
    meter = await get_meter(ctx, meter_id)
    ctx.who.require_write()
    reading = ctx.uow.meters.add_reading(
        MeterReading(
            meter_id=meter.id,
            timestamp=timestamp,
            current_l1=currents[0],
            current_l2=currents[1],
            current_l3=currents[2],
        )
    )
    await ctx.uow.commit()
    feed: MeterFeed = {
        "meter_id": str(meter.id),
        "site_id": str(meter.site_id),
        "timestamp": timestamp.isoformat(),
        "current_l1": currents[0],
        "current_l2": currents[1],
        "current_l3": currents[2],
    }
    ctx.bus.publish(METER_READING, feed)
    return reading
