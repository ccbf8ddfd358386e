from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, SiteFilter, in_scope, make_router
from chargegrid.api.schemas.chargers import ChargerCreate, ChargerOut, ChargerUpdate
from chargegrid.api.schemas.common import ListOf
from chargegrid.services.configure import chargers, evses
from chargegrid.store.models import Charger
from chargegrid.store.pki_store import latest_signed

router = make_router("chargers")


@router.post("/chargers", status_code=201)
async def create_charger(body: ChargerCreate, ctx: Ctx) -> ChargerOut:
    data = body.model_dump(exclude_unset=True)
    return ChargerOut.of(await evses.create_charger_with_evses(ctx, data))


async def _out(ctx: Ctx, charger: Charger) -> ChargerOut:
    certificates = await latest_signed(ctx.uow.session, [charger.id])
    return ChargerOut.of(charger, certificates.get(charger.id))


@router.get("/chargers")
async def list_chargers(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[ChargerOut]:
    repo = ctx.uow.chargers
    query = repo.select().where(in_scope(ctx.who, Charger.site_id, site_id))
    page = await repo.page(query, limit, cursor)
    certificates = await latest_signed(ctx.uow.session, [c.id for c in page.items])
    data = [ChargerOut.of(c, certificates.get(c.id)) for c in page.items]
    return ListOf(data=data, next_cursor=page.next_cursor)


@router.get("/chargers/{charger_id}")
async def get_charger(charger_id: uuid.UUID, ctx: Ctx) -> ChargerOut:
    return await _out(ctx, await chargers.get_charger(ctx, charger_id))


@router.patch("/chargers/{charger_id}")
async def update_charger(charger_id: uuid.UUID, body: ChargerUpdate, ctx: Ctx) -> ChargerOut:
    data = body.model_dump(exclude_unset=True)
    return await _out(ctx, await chargers.update_charger(ctx, charger_id, data))


@router.delete("/chargers/{charger_id}", status_code=204)
async def delete_charger(charger_id: uuid.UUID, ctx: Ctx) -> Response:
    await chargers.delete_charger(ctx, charger_id)
    return Response(status_code=204)
