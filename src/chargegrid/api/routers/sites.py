from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, in_scope, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.api.schemas.sites import SiteCreate, SiteOut, SiteUpdate
from chargegrid.services.configure import sites
from chargegrid.store.models import Site

router = make_router("sites")


@router.post("/sites", status_code=201)
async def create_site(body: SiteCreate, ctx: Ctx) -> SiteOut:
    return SiteOut.of(await sites.create_site(ctx, body.model_dump(exclude_unset=True)))


@router.get("/sites")
async def list_sites(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> ListOf[SiteOut]:
    repo = ctx.uow.sites
    page = await repo.page(repo.select().where(in_scope(ctx.who, Site.id, None)), limit, cursor)
    return ListOf(data=[SiteOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/sites/{site_id}")
async def get_site(site_id: uuid.UUID, ctx: Ctx) -> SiteOut:
    return SiteOut.of(await sites.get_site(ctx, site_id))


@router.patch("/sites/{site_id}")
async def update_site(site_id: uuid.UUID, body: SiteUpdate, ctx: Ctx) -> SiteOut:
    data = body.model_dump(exclude_unset=True)
    return SiteOut.of(await sites.update_site(ctx, site_id, data))


@router.delete("/sites/{site_id}", status_code=204)
async def delete_site(site_id: uuid.UUID, ctx: Ctx) -> Response:
    await sites.delete_site(ctx, site_id)
    return Response(status_code=204)
