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


@router.post("/chargers", status_code=201, summary="Add a charger")
async def create_charger(body: ChargerCreate, ctx: Ctx) -> ChargerOut:
    """Registers a charger by its `ocpp_id` (the last part of its OCPP URL) on a site and
    optionally a circuit, with its EVSEs and connectors in the same transaction
    (`evses`, or `connectors` in the OCPP 1.6 shape: one EVSE per connector), an
    optional `password` for HTTP Basic auth (stored hashed) and its load settings.

    Roles: service, admin

    403 for owner and viewer. 404 for a `site_id` outside the token's sites. 409 when
    another charger has this `ocpp_id`. 422 names each bad field (`evses[1].evse_id`,
    `connectors[0].phase_rotation` ...): a site or circuit that does not exist,
    `site_id` left out by a site-scoped token. The charger may connect from then on;
    `config_sync` is `pending` until it has taken its settings. Audited and published as
    `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    return ChargerOut.of(await evses.create_charger_with_evses(ctx, data))


async def _out(ctx: Ctx, charger: Charger) -> ChargerOut:
    certificates = await latest_signed(ctx.uow.session, [charger.id])
    return ChargerOut.of(charger, certificates.get(charger.id))


@router.get("/chargers", summary="List chargers")
async def list_chargers(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[ChargerOut]:
    """The chargers the token may see (narrowed to `site_id`), a page at a time, each
    with what it reported (vendor, model, firmware, negotiated `ocpp_version`,
    `capabilities`), whether it is `online`, its status and its settings.

    Roles: viewer, owner, service, admin

    Chargers on no site (registered by themselves, awaiting placement) are seen by
    tokens without a site scope only.
    """
    repo = ctx.uow.chargers
    query = repo.select().where(in_scope(ctx.who, Charger.site_id, site_id))
    page = await repo.page(query, limit, cursor)
    certificates = await latest_signed(ctx.uow.session, [c.id for c in page.items])
    data = [ChargerOut.of(c, certificates.get(c.id)) for c in page.items]
    return ListOf(data=data, next_cursor=page.next_cursor)


@router.get("/chargers/{charger_id}", summary="Get a charger")
async def get_charger(charger_id: uuid.UUID, ctx: Ctx) -> ChargerOut:
    """One charger: identity, placement, connection, status and error codes, settings,
    `config_sync`, and the client certificate our CA last signed for it.

    Roles: viewer, owner, service, admin

    404 for an unknown charger or one outside the token's sites.
    """
    return await _out(ctx, await chargers.get_charger(ctx, charger_id))


@router.patch("/chargers/{charger_id}", summary="Change a charger")
async def update_charger(charger_id: uuid.UUID, body: ChargerUpdate, ctx: Ctx) -> ChargerOut:
    """Changes only the fields sent (`null`: back to the default). Load settings
    (`max_charge_current`, `min_charge_current`, `max_charge_phases`, `priority`) take
    effect at the next rebalance, which the change starts. `meter_value_interval`,
    `offline_charge_current` and `offline_charge_phase` are the charger's own to apply:
    `config_sync` goes `pending` until it has (a connected charger is sent the meter
    interval at once). Moving it (`site_id`, `circuit_id`) takes it out of the old
    site's balance; accepting a pending charger is `registration_status: Accepted`.

    Roles: owner, service, admin (technical fields `ocpp_id`, `site_id`, `circuit_id`,
    `registration_status`, `ocpp_version_pin`, `security_profile`, `password`,
    `allowed_currents`, `current_step`: service, admin)

    403 for a viewer, or an owner sending a technical field. 404 for a `site_id` outside the
    token's sites. 409 for an `ocpp_id` another charger has. 422 names each bad field (a
    circuit not on the charger's site, a site that does not exist, `allowed_currents`
    and `current_step` both set). Audited (passwords
    shown only as `(secret)`) and published as `config.changed`.
    """
    data = body.model_dump(exclude_unset=True)
    return await _out(ctx, await chargers.update_charger(ctx, charger_id, data))


@router.delete("/chargers/{charger_id}", status_code=204, summary="Delete a charger")
async def delete_charger(charger_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes the charger with its EVSEs, connectors and sessions. If it is connected,
    its OCPP connection is closed; it cannot connect again under that `ocpp_id` unless
    added again (or auto-registration is on).

    Roles: service, admin

    403 for owner and viewer. Audited and published as `config.changed` (deleted).
    """
    await chargers.delete_charger(ctx, charger_id)
    return Response(status_code=204)
