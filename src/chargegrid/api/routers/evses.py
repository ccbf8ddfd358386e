from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.api.schemas.evses import (
    ConnectorCreate,
    ConnectorOut,
    ConnectorUpdate,
    EvseCreate,
    EvseOut,
    EvseUpdate,
)
from chargegrid.services.configure import evses
from chargegrid.services.configure.chargers import get_charger
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.models import Connector, Evse

router = make_router("evses")
# Path parameters arrive as text, so not the strict integer of request bodies.
ConnectorNumber = Annotated[int, Path(ge=1, le=1000, description="OCPP connector id")]


async def _evse_out(ctx: ConfigContext, evse_id: uuid.UUID) -> EvseOut:
    # Re-read so the connectors and the charger's online flag are current.
    ctx.uow.session.expunge_all()
    evse = await evses.get_evse(ctx, evse_id)
    return EvseOut.of(evse, evse.charger.online)


async def _connector_out(ctx: ConfigContext, connector: Connector) -> ConnectorOut:
    evse = await evses.get_evse(ctx, connector.evse_id)
    return ConnectorOut.of(connector, evse.evse_number, evse.charger.online)


@router.get("/chargers/{charger_id}/evses")
async def list_evses(
    charger_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[EvseOut]:
    """The charger's EVSEs by evse_number."""
    charger = await get_charger(ctx, charger_id)  # 404 when unknown or outside the scope
    repo = ctx.uow.evses
    page = await repo.page(repo.select().where(Evse.charger_id == charger.id), limit, cursor)
    return ListOf(
        data=[EvseOut.of(e, charger.online) for e in page.items], next_cursor=page.next_cursor
    )


@router.post("/chargers/{charger_id}/evses", status_code=201)
async def create_evse(charger_id: uuid.UUID, body: EvseCreate, ctx: Ctx) -> EvseOut:
    data = body.model_dump(exclude_unset=True)
    evse = await evses.create_evse(ctx, charger_id, data)
    return await _evse_out(ctx, evse.id)


@router.get("/evses/{evse_id}")
async def get_evse(evse_id: uuid.UUID, ctx: Ctx) -> EvseOut:
    evse = await evses.get_evse(ctx, evse_id)
    return EvseOut.of(evse, evse.charger.online)


@router.patch("/evses/{evse_id}")
async def update_evse(evse_id: uuid.UUID, body: EvseUpdate, ctx: Ctx) -> EvseOut:
    await evses.update_evse(ctx, evse_id, body.model_dump(exclude_unset=True))
    return await _evse_out(ctx, evse_id)


@router.delete("/evses/{evse_id}", status_code=204)
async def delete_evse(evse_id: uuid.UUID, ctx: Ctx) -> Response:
    await evses.delete_evse(ctx, evse_id)
    return Response(status_code=204)


@router.get("/evses/{evse_id}/connectors")
async def list_connectors(
    evse_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[ConnectorOut]:
    """The EVSE's connectors by connector_id."""
    evse = await evses.get_evse(ctx, evse_id)  # 404 when unknown or outside the scope
    repo = ctx.uow.connectors
    page = await repo.page(repo.select().where(Connector.evse_id == evse.id), limit, cursor)
    online = evse.charger.online
    return ListOf(
        data=[ConnectorOut.of(c, evse.evse_number, online) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/evses/{evse_id}/connectors", status_code=201)
async def create_connector(evse_id: uuid.UUID, body: ConnectorCreate, ctx: Ctx) -> ConnectorOut:
    data = body.model_dump(exclude_unset=True)
    return await _connector_out(ctx, await evses.create_connector(ctx, evse_id, data))


@router.patch("/evses/{evse_id}/connectors/{connector_id}")
async def update_connector_on_evse(
    evse_id: uuid.UUID, connector_id: ConnectorNumber, body: ConnectorUpdate, ctx: Ctx
) -> ConnectorOut:
    data = body.model_dump(exclude_unset=True)
    connector = await evses.update_connector_on_evse(ctx, evse_id, connector_id, data)
    return await _connector_out(ctx, connector)


@router.put("/chargers/{charger_id}/connectors/{connector_id}")
async def update_connector_on_charger(
    charger_id: uuid.UUID, connector_id: ConnectorNumber, body: ConnectorUpdate, ctx: Ctx
) -> ConnectorOut:
    """Plugchoice-style update of one connector by the charger's OCPP connector id."""
    data = body.model_dump(exclude_unset=True)
    connector = await evses.update_connector_on_charger(ctx, charger_id, connector_id, data)
    return await _connector_out(ctx, connector)
