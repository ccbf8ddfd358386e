"""Sites: the main fuse, its available-current override, site-wide load settings."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.errors import InvalidValue
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    apply_override,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import Site

OPERATIONAL = {
    "name": REQUIRED,
    "timezone": "UTC",
    "offline_limit_to_min_current": False,
    "three_to_one_phase_switch_current": None,
}
TECHNICAL = {
    "max_current": REQUIRED,
    "network_type": "TN",
    "nominal_voltage": 230.0,
    "electricity_meter_id": None,
}


async def get_site(ctx: ConfigContext, site_id: uuid.UUID) -> Site:
    ctx.who.check_site(site_id, "site")
    return found(await ctx.uow.sites.get(site_id), "site")


async def create_site(ctx: ConfigContext, data: dict[str, Any]) -> Site:
    ctx.who.require_technical("a site's main fuse")
    if not ctx.who.unscoped:
        # A token scoped to sites could not see a new one.
        ctx.who.require_admin("creating a site with a site-scoped token")
    for name in ("name", "max_current"):
        if data.get(name) is None:
            raise InvalidValue.of(name, "required")
    site = Site(name=data["name"], max_current=data["max_current"])
    assign(site, with_defaults(data, OPERATIONAL | TECHNICAL), OPERATIONAL | TECHNICAL)
    apply_override(site, data, ctx.now, site.max_current)
    await _check_meter(ctx, site, data)
    ctx.uow.sites.add(site)
    await ctx.uow.sites.flush()
    ctx.changed("site", site.id, site.id, "created", data)
    await ctx.commit()
    return site


async def update_site(ctx: ConfigContext, site_id: uuid.UUID, data: dict[str, Any]) -> Site:
    site = await get_site(ctx, site_id)
    ctx.who.require_write()
    technical = [k for k in TECHNICAL if k in data]
    if technical:
        ctx.who.require_technical(", ".join(technical))
    changed = assign(site, data, OPERATIONAL | TECHNICAL)
    if "max_current" in changed:
        for circuit in await ctx.uow.circuits.top_level(site.id):
            if circuit.max_current > site.max_current:
                raise InvalidValue.of(
                    "max_current",
                    f"circuit {circuit.name!r} is rated {circuit.max_current:g} A; lower it first",
                )
    await _check_meter(ctx, site, data)
    changed |= apply_override(site, data, ctx.now, site.max_current)
    await ctx.commit_update("site", site.id, site.id, changed)
    return site


async def delete_site(ctx: ConfigContext, site_id: uuid.UUID) -> None:
    site = await get_site(ctx, site_id)
    ctx.who.require_technical("deleting a site")
    await ctx.uow.sites.delete(site)
    ctx.changed("site", site_id, site_id, "deleted")
    await ctx.commit()


async def _check_meter(ctx: ConfigContext, site: Site, data: dict[str, Any]) -> None:
    meter_id = data.get("electricity_meter_id")
    if meter_id is not None and not await ctx.meter_is_on_site(meter_id, site.id):
        raise InvalidValue.of("electricity_meter_id", "no such meter on this site")
