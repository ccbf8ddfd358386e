from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.api.schemas.id_tags import IdTagCreate, IdTagOut, IdTagUpdate
from chargegrid.services.configure import id_tags
from chargegrid.store.models import IdTag

router = make_router("id-tags")


@router.post("/id-tags", status_code=201)
async def create_id_tag(body: IdTagCreate, ctx: Ctx) -> IdTagOut:
    tag = await id_tags.create_id_tag(ctx, body.model_dump(exclude_unset=True))
    return IdTagOut.model_validate(tag)


@router.get("/id-tags")
async def list_id_tags(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[IdTagOut]:
    repo = ctx.uow.id_tags
    query = repo.select()
    if not ctx.who.unscoped:
        query = query.where(IdTag.site_id.in_(list(ctx.who.site_ids or ())))
    if site_id is not None:
        query = query.where(IdTag.site_id == site_id)
    page = await repo.page(query, limit, cursor)
    return ListOf(
        data=[IdTagOut.model_validate(t) for t in page.items], next_cursor=page.next_cursor
    )


@router.get("/id-tags/{tag_id}")
async def get_id_tag(tag_id: uuid.UUID, ctx: Ctx) -> IdTagOut:
    return IdTagOut.model_validate(await id_tags.get_id_tag(ctx, tag_id))


@router.patch("/id-tags/{tag_id}")
async def update_id_tag(tag_id: uuid.UUID, body: IdTagUpdate, ctx: Ctx) -> IdTagOut:
    tag = await id_tags.update_id_tag(ctx, tag_id, body.model_dump(exclude_unset=True))
    return IdTagOut.model_validate(tag)


@router.delete("/id-tags/{tag_id}", status_code=204)
async def delete_id_tag(tag_id: uuid.UUID, ctx: Ctx) -> Response:
    await id_tags.delete_id_tag(ctx, tag_id)
    return Response(status_code=204)
