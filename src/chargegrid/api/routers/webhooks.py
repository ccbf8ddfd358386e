from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import Cursor, Limit, make_router
from chargegrid.api.schemas.common import ListOf
from chargegrid.api.schemas.webhooks import WebhookCreate, WebhookOut, WebhookUpdate
from chargegrid.services.configure import webhooks
from chargegrid.store.models import Webhook

router = make_router("webhooks")


def _data(body: WebhookUpdate) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    if data.get("url") is not None:
        data["url"] = str(data["url"])
    return data


@router.post("/webhooks", status_code=201, summary="Subscribe a webhook")
async def create_webhook(body: WebhookCreate, ctx: Ctx) -> WebhookOut:
    """Each event matching `events` (names, or prefixes ending in `*` such as
    `session.*`) is POSTed to `url` as `{"id", "event", "at", "data"}` with
    `X-Chargegrid-Signature: sha256=<HMAC-SHA256 of the body with secret>`; a receiver
    answering 5xx or 429, or not reachable, is retried with backoff (1, 4, 16, 64,
    256 s). With `site_id` only that site's events go out.

    Roles: service, admin (a site-scoped token: only for its own sites)

    403 for owner and viewer. 404 from a site-scoped token for a `site_id` outside its
    sites, or none. 422 names each bad field: an unknown event name (`events[2]`), a
    `site_id` that does not exist. The secret is never shown again. Audited (the
    secret as `(secret)`) and published as `config.changed`.
    """
    return WebhookOut.model_validate(await webhooks.create_webhook(ctx, _data(body)))


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> ListOf[WebhookOut]:
    """The webhook subscriptions the token may see, a page at a time, without their
    secrets.

    Roles: viewer, owner, service, admin

    Subscriptions for every site (no `site_id`) are seen by tokens without a site scope
    only.
    """
    repo = ctx.uow.webhooks
    query = repo.select()
    if not ctx.who.unscoped:
        query = query.where(Webhook.site_id.in_(list(ctx.who.site_ids or ())))
    page = await repo.page(query, limit, cursor)
    return ListOf(
        data=[WebhookOut.model_validate(w) for w in page.items], next_cursor=page.next_cursor
    )


@router.get("/webhooks/{webhook_id}", summary="Get a webhook")
async def get_webhook(webhook_id: uuid.UUID, ctx: Ctx) -> WebhookOut:
    """One subscription: `url`, `events`, `enabled`, `site_id` (never the secret).

    Roles: viewer, owner, service, admin

    404 for an unknown webhook or one a site-scoped token may not see.
    """
    return WebhookOut.model_validate(await webhooks.get_webhook(ctx, webhook_id))


@router.patch("/webhooks/{webhook_id}", summary="Change a webhook")
async def update_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, ctx: Ctx) -> WebhookOut:
    """Changes only the fields sent: `url`, `events`, a new `secret`, or
    `enabled: false` to pause deliveries. Deliveries use the new settings from the
    next event on.

    Roles: service, admin

    403 for owner and viewer. 422 names each bad field (an unknown event name).
    Audited and published as `config.changed`.
    """
    return WebhookOut.model_validate(await webhooks.update_webhook(ctx, webhook_id, _data(body)))


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: uuid.UUID, ctx: Ctx) -> Response:
    """Ends the subscription: no event from then on is sent to its `url`.

    Roles: service, admin

    403 for owner and viewer. Audited and published as `config.changed` (deleted).
    """
    await webhooks.delete_webhook(ctx, webhook_id)
    return Response(status_code=204)
