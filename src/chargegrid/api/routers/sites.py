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


@router.post("/sites", status_code=201, summary="Create a site")
async def create_site(body: SiteCreate, ctx: Ctx) -> SiteOut:
    """A new site: `name` and its main fuse `max_current` (A per phase) are required;
    `timezone`, `network_type`, `nominal_voltage`, the switch to one phase and an
    available-current override (clamped to `max_current`) are optional.

    Roles: service, admin (a site-scoped token: admin only)

    Refuses owner and viewer (403), and a site-scoped service token (403: it could not
    see the site it made). 422 names each bad or missing field; `electricity_meter_id`
    cannot be given yet (a new site has no meters). The change is audited and published
    as `config.changed` (created), which starts the load manager on the site.
    """
    return SiteOut.of(await sites.create_site(ctx, body.model_dump(exclude_unset=True)))


@router.get("/sites", summary="List sites")
async def list_sites(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> ListOf[SiteOut]:
    """The sites the token may see (all of them, or its own), a page at a time:
    `{"data": [...], "next_cursor": ...}`.

    Roles: viewer, owner, service, admin
    """
    repo = ctx.uow.sites
    page = await repo.page(repo.select().where(in_scope(ctx.who, Site.id, None)), limit, cursor)
    return ListOf(data=[SiteOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/sites/{site_id}", summary="Get a site")
async def get_site(site_id: uuid.UUID, ctx: Ctx) -> SiteOut:
    """One site with its override as set (`available_current_phase1/2/3`, lapse time)
    and `effective_available_current`: per phase, what the load manager works with
    after the override, clamped to the main fuse.

    Roles: viewer, owner, service, admin

    404 for an unknown site or one outside the token's sites.
    """
    return SiteOut.of(await sites.get_site(ctx, site_id))


@router.patch("/sites/{site_id}", summary="Change a site")
async def update_site(site_id: uuid.UUID, body: SiteUpdate, ctx: Ctx) -> SiteOut:
    """Changes only the fields sent; `null` puts a field back to its default. An
    `available_current` sets all three phases (negative clears the override),
    `available_current_phase1/2/3` set single phases (the others go back to the
    default), `available_current_ttl_s` makes the override lapse; overrides above the
    main fuse are clamped to it.

    Roles: owner, service, admin (technical fields `max_current`, `network_type`,
    `nominal_voltage`, `electricity_meter_id`: service, admin)

    403 for a viewer, or an owner sending a technical field. 422 names each bad field:
    `available_current` together with a per-phase field, a `max_current` below a
    top-level circuit's rating, a meter that is not on this site. A change is audited
    and published as `config.changed`; the load manager rebalances the site at once
    (new limits go out to its chargers). A PATCH that changes nothing publishes nothing.
    """
    data = body.model_dump(exclude_unset=True)
    return SiteOut.of(await sites.update_site(ctx, site_id, data))


@router.delete("/sites/{site_id}", status_code=204, summary="Delete a site")
async def delete_site(site_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes the site and everything on it: circuits, chargers (with their EVSEs,
    connectors and sessions), electricity meters, and the id tags and webhooks scoped
    to it. The event log keeps its entries (they carry no foreign key).

    Roles: service, admin

    403 for owner and viewer. Audited and published as `config.changed` (deleted): the
    load manager drops the site.
    """
    await sites.delete_site(ctx, site_id)
    return Response(status_code=204)
