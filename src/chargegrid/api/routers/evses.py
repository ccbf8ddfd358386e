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


@router.get("/chargers/{charger_id}/evses", summary="List a charger's EVSEs")
async def list_evses(
    charger_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[EvseOut]:
    """The charger's EVSEs by `evse_number`, each with its connectors, `enabled`, and
    its status (OCPI, and as the charger reported it).

    Roles: viewer, owner, service, admin

    404 for an unknown charger or one outside the token's sites.
    """
    charger = await get_charger(ctx, charger_id)  # 404 when unknown or outside the scope
    repo = ctx.uow.evses
    page = await repo.page(repo.select().where(Evse.charger_id == charger.id), limit, cursor)
    return ListOf(
        data=[EvseOut.of(e, charger.online) for e in page.items], next_cursor=page.next_cursor
    )


@router.post("/chargers/{charger_id}/evses", status_code=201, summary="Add an EVSE")
async def create_evse(charger_id: uuid.UUID, body: EvseCreate, ctx: Ctx) -> EvseOut:
    """A new EVSE on the charger (`evse_number`: the OCPP EVSE or 1.6 connector id) with
    its connectors, each with its power type, rating and `phase_rotation` (wiring set by
    an operator: the charger's reports no longer change it).

    Roles: service, admin

    403 for owner and viewer. 409 when the charger has this `evse_number` or one of the
    connector ids already. 422 names each bad field (`connectors[0].phase_rotation`
    that does not match the power type, an `evse_id` that is not eMI3). Audited and
    published as `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    evse = await evses.create_evse(ctx, charger_id, data)
    return await _evse_out(ctx, evse.id)


@router.get("/evses/{evse_id}", summary="Get an EVSE")
async def get_evse(evse_id: uuid.UUID, ctx: Ctx) -> EvseOut:
    """One EVSE with its connectors and status (`UNKNOWN` while its charger is offline).

    Roles: viewer, owner, service, admin

    404 for an unknown EVSE or one on a charger outside the token's sites.
    """
    evse = await evses.get_evse(ctx, evse_id)
    return EvseOut.of(evse, evse.charger.online)


@router.patch("/evses/{evse_id}", summary="Change an EVSE")
async def update_evse(evse_id: uuid.UUID, body: EvseUpdate, ctx: Ctx) -> EvseOut:
    """Changes only the fields sent. `enabled: false` takes the EVSE out of service: a
    connected charger is sent ChangeAvailability Inoperative (`true`: Operative) and
    the load manager stops giving it current.

    Roles: owner, service, admin (`evse_number`, `evse_id`: service, admin)

    403 for a viewer, or an owner sending `evse_number` or `evse_id`. 409 for an
    `evse_number` the charger has already. 422 names each bad field. Audited and
    published as `config.changed`.
    """
    await evses.update_evse(ctx, evse_id, body.model_dump(exclude_unset=True))
    return await _evse_out(ctx, evse_id)


@router.delete("/evses/{evse_id}", status_code=204, summary="Delete an EVSE")
async def delete_evse(evse_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes the EVSE and its connectors; its sessions stay, without the EVSE.

    Roles: service, admin

    403 for owner and viewer. Audited and published as `config.changed` (deleted).
    """
    await evses.delete_evse(ctx, evse_id)
    return Response(status_code=204)


@router.get("/evses/{evse_id}/connectors", summary="List an EVSE's connectors")
async def list_connectors(
    evse_id: uuid.UUID, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[ConnectorOut]:
    """The EVSE's connectors by `connector_id`: standard, format, power type, ratings,
    `phase_rotation` and where the wiring came from (`wiring_source`), status and the
    charger's error codes.

    Roles: viewer, owner, service, admin

    404 for an unknown EVSE or one outside the token's sites.
    """
    evse = await evses.get_evse(ctx, evse_id)  # 404 when unknown or outside the scope
    repo = ctx.uow.connectors
    page = await repo.page(repo.select().where(Connector.evse_id == evse.id), limit, cursor)
    online = evse.charger.online
    return ListOf(
        data=[ConnectorOut.of(c, evse.evse_number, online) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/evses/{evse_id}/connectors", status_code=201, summary="Add a connector")
async def create_connector(evse_id: uuid.UUID, body: ConnectorCreate, ctx: Ctx) -> ConnectorOut:
    """A new connector on the EVSE; fields left out take the defaults (Type 2 socket,
    `AC_3_PHASE`, 32 A, straight-through rotation).

    Roles: service, admin

    403 for owner and viewer. 409 when the charger has this `connector_id` already.
    422 names each bad field (a `phase_rotation` whose phase count does not match
    `power_type`). Audited and published as `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    return await _connector_out(ctx, await evses.create_connector(ctx, evse_id, data))


@router.patch("/evses/{evse_id}/connectors/{connector_id}", summary="Change a connector")
async def update_connector_on_evse(
    evse_id: uuid.UUID, connector_id: ConnectorNumber, body: ConnectorUpdate, ctx: Ctx
) -> ConnectorOut:
    """Changes only the fields sent. Setting `power_type` or `phase_rotation` makes the
    wiring the operator's (`wiring_source: operator`): the charger's
    ConnectorPhaseRotation no longer changes it. A straight-through rotation follows a
    new power type. The load manager uses the new wiring at once.

    Roles: service, admin

    403 for owner and viewer. 404 for an unknown EVSE or connector. 422 names each bad
    field. Audited and published as `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    connector = await evses.update_connector_on_evse(ctx, evse_id, connector_id, data)
    return await _connector_out(ctx, connector)


@router.put(
    "/chargers/{charger_id}/connectors/{connector_id}",
    summary="Change a connector by the charger's connector id",
)
async def update_connector_on_charger(
    charger_id: uuid.UUID, connector_id: ConnectorNumber, body: ConnectorUpdate, ctx: Ctx
) -> ConnectorOut:
    """Plugchoice-style: the same update as `PATCH /evses/{evse_id}/connectors/...`,
    addressed by the charger and its OCPP connector id. Only the fields sent change
    (not a full replacement); setting `power_type` or `phase_rotation` makes the wiring
    the operator's.

    Roles: service, admin

    403 for owner and viewer. 404 for an unknown charger or connector. 422 names each
    bad field. Audited and published as `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    connector = await evses.update_connector_on_charger(ctx, charger_id, connector_id, data)
    return await _connector_out(ctx, connector)
