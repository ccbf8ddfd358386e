from __future__ import annotations

import uuid

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.circuits import CircuitCreate, CircuitOut, CircuitUpdate
from chargegrid.api.schemas.common import ListOf
from chargegrid.services.configure import circuits
from chargegrid.services.configure.sites import get_site
from chargegrid.store.models import Circuit

router = make_router("circuits")


@router.post("/sites/{site_id}/circuits", status_code=201)
async def create_circuit(site_id: uuid.UUID, body: CircuitCreate, ctx: Ctx) -> CircuitOut:
    data = body.model_dump(exclude_unset=True)
    return CircuitOut.of(await circuits.create_circuit(ctx, site_id, data))


@router.get("/sites/{site_id}/circuits")
async def list_circuits(
    site_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[CircuitOut]:
    await get_site(ctx, site_id)
    repo = ctx.uow.circuits
    page = await repo.page(repo.select().where(Circuit.site_id == site_id), limit, cursor)
    return ListOf(data=[CircuitOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/circuits/{circuit_id}")
async def get_circuit(circuit_id: uuid.UUID, ctx: Ctx) -> CircuitOut:
    return CircuitOut.of(await circuits.get_circuit(ctx, circuit_id))


@router.patch("/circuits/{circuit_id}")
async def update_circuit(circuit_id: uuid.UUID, body: CircuitUpdate, ctx: Ctx) -> CircuitOut:
    data = body.model_dump(exclude_unset=True)
    return CircuitOut.of(await circuits.update_circuit(ctx, circuit_id, data))


@router.delete("/circuits/{circuit_id}", status_code=204)
async def delete_circuit(circuit_id: uuid.UUID, ctx: Ctx) -> Response:
    await circuits.delete_circuit(ctx, circuit_id)
    return Response(status_code=204)
