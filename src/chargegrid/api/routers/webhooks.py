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


@router.post("/webhooks", status_code=201)
async def create_webhook(body: WebhookCreate, ctx: Ctx) -> WebhookOut:
    return WebhookOut.model_validate(await webhooks.create_webhook(ctx, _data(body)))


@router.get("/webhooks")
async def list_webhooks(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> ListOf[WebhookOut]:
    repo = ctx.uow.webhooks
    query = repo.select()
    if not ctx.who.unscoped:
        query = query.where(Webhook.site_id.in_(list(ctx.who.site_ids or ())))
    page = await repo.page(query, limit, cursor)
    return ListOf(
        data=[WebhookOut.model_validate(w) for w in page.items], next_cursor=page.next_cursor
    )


@router.get("/webhooks/{webhook_id}")
async def get_webhook(webhook_id: uuid.UUID, ctx: Ctx) -> WebhookOut:
    return WebhookOut.model_validate(await webhooks.get_webhook(ctx, webhook_id))


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, ctx: Ctx) -> WebhookOut:
    return WebhookOut.model_validate(await webhooks.update_webhook(ctx, webhook_id, _data(body)))


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, ctx: Ctx) -> Response:
    await webhooks.delete_webhook(ctx, webhook_id)
    return Response(status_code=204)
