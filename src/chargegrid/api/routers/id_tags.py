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


@router.post("/id-tags", status_code=201, summary="Create an id tag")
async def create_id_tag(body: IdTagCreate, ctx: Ctx) -> IdTagOut:
    """A new id tag (RFID card or other token) chargers authorize against: `id_tag`
    (required, unique), `status` (default `Accepted`), `expires_at`, `parent_id_tag`,
    and `site_id` (null: valid on every site).

    Roles: owner, service, admin (a site-scoped token: only for its own sites)

    403 for a viewer. 404 from a site-scoped token for a `site_id` outside its sites,
    or none. 409 when the `id_tag` exists. 422 names each bad field (a `site_id` that
    does not exist). Audited and published as `config.changed`.
    """
    tag = await id_tags.create_id_tag(ctx, body.model_dump(exclude_unset=True))
    return IdTagOut.model_validate(tag)


@router.get("/id-tags", summary="List id tags")
async def list_id_tags(
    ctx: Ctx, site_id: SiteFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[IdTagOut]:
    """The id tags the token may see (narrowed to `site_id`), a page at a time.

    Roles: viewer, owner, service, admin

    Tags valid on every site (no `site_id`) are the operator's: tokens with a site
    scope see only the tags of their sites.
    """
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


@router.get("/id-tags/{tag_id}", summary="Get an id tag")
async def get_id_tag(tag_id: uuid.UUID, ctx: Ctx) -> IdTagOut:
    """One id tag by its API id (not the `id_tag` text).

    Roles: viewer, owner, service, admin

    404 for an unknown tag, or one a site-scoped token may not see.
    """
    return IdTagOut.model_validate(await id_tags.get_id_tag(ctx, tag_id))


@router.patch("/id-tags/{tag_id}", summary="Change an id tag")
async def update_id_tag(tag_id: uuid.UUID, body: IdTagUpdate, ctx: Ctx) -> IdTagOut:
    """Changes only the fields sent: block a card with `status: Blocked`, set or clear
    `expires_at`, move it to another site. A charger hears the new status at its next
    Authorize (or StartTransaction); a local list it holds changes only when sent again
    (`actions/send-local-list`).

    Roles: owner, service, admin

    403 for a viewer. 409 for an `id_tag` another tag has. 422 names each bad field.
    Audited and published as `config.changed`.
    """
    tag = await id_tags.update_id_tag(ctx, tag_id, body.model_dump(exclude_unset=True))
    return IdTagOut.model_validate(tag)


@router.delete("/id-tags/{tag_id}", status_code=204, summary="Delete an id tag")
async def delete_id_tag(tag_id: uuid.UUID, ctx: Ctx) -> Response:
    """Deletes the tag: a charger asking for it from then on is told `Invalid` (unless
    the server runs in free-charging mode). A copy in a charger's local list stays
    until the list is sent again. Sessions keep the tag's text.

    Roles: owner, service, admin

    403 for a viewer. Audited and published as `config.changed` (deleted).
    """
    await id_tags.delete_id_tag(ctx, tag_id)
    return Response(status_code=204)
