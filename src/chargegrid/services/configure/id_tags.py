"""Id tags (RFID cards and other tokens) that chargers authorize against."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.errors import Conflict, InvalidValue
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import IdTag

FIELDS = {
    "id_tag": REQUIRED,
    "status": "Accepted",
    "expires_at": None,
    "parent_id_tag": None,
    "site_id": None,
    # Deadline defaults (docs/deadlines.md).
    "default_departure_time": None,
    "default_dwell_s": None,
    "default_energy_wh": None,
}


async def get_id_tag(ctx: ConfigContext, tag_id: uuid.UUID) -> IdTag:
    tag = found(await ctx.uow.id_tags.get(tag_id), "id tag")
    # Global tags (no site) belong to the operator: only unscoped tokens see them.
    ctx.who.check_site(tag.site_id, "id tag")
    return tag


async def create_id_tag(ctx: ConfigContext, data: dict[str, Any]) -> IdTag:
    ctx.who.require_write()
    if data.get("id_tag") is None:
        raise InvalidValue.of("id_tag", "required")
    tag = IdTag(id=uuid.uuid4(), id_tag=data["id_tag"])
    assign(tag, with_defaults(data, FIELDS), FIELDS)
    await _check(ctx, tag)
    ctx.uow.id_tags.add(tag)
    ctx.changed("id_tag", tag.id, tag.site_id, "created", data)
    await ctx.commit()
    return tag


async def update_id_tag(ctx: ConfigContext, tag_id: uuid.UUID, data: dict[str, Any]) -> IdTag:
    tag = await get_id_tag(ctx, tag_id)
    ctx.who.require_write()
    changed = assign(tag, data, FIELDS)
    # Checked before anything is flushed: a site_id to nothing is the 422 naming it
    # (as on POST), not a foreign-key error from an autoflush.
    with ctx.uow.session.no_autoflush:
        await _check(ctx, tag)
    await ctx.commit_update("id_tag", tag.id, tag.site_id, changed)
    return tag


async def delete_id_tag(ctx: ConfigContext, tag_id: uuid.UUID) -> None:
    tag = await get_id_tag(ctx, tag_id)
    ctx.who.require_write()
    await ctx.uow.id_tags.delete(tag)
    ctx.changed("id_tag", tag_id, tag.site_id, "deleted")
    await ctx.commit()


async def _check(ctx: ConfigContext, tag: IdTag) -> None:
    if tag.site_id is not None or not ctx.who.unscoped:
        ctx.who.check_site(tag.site_id, "site")
        if tag.site_id is None or await ctx.uow.sites.get(tag.site_id) is None:
            raise InvalidValue.of("site_id", "no such site")
    other = await ctx.uow.id_tags.by_tag(tag.id_tag)
    if other is not None and other.id != tag.id:
        raise Conflict(f"id tag {tag.id_tag!r} exists already")
