"""Webhook subscriptions: where events are POSTed, which ones, signed with which secret."""

from __future__ import annotations

import uuid
from typing import Any

from chargegrid.domain.errors import InvalidValue
from chargegrid.events import WEBHOOK_TOPICS
from chargegrid.services.configure.context import (
    REQUIRED,
    ConfigContext,
    assign,
    found,
    with_defaults,
)
from chargegrid.store.models import Webhook

TOPICS = WEBHOOK_TOPICS  # chargegrid.events: API.md's events, meters, compliance
FIELDS = {"url": REQUIRED, "events": REQUIRED, "secret": REQUIRED, "enabled": True}


def check_events(events: list[str]) -> None:
    for index, pattern in enumerate(events):
        known = pattern in TOPICS or (
            pattern.endswith("*") and any(t.startswith(pattern[:-1]) for t in TOPICS)
        )
        if not known:
            raise InvalidValue.of(
                f"events[{index}]",
                f"{pattern!r} is not an event; one of {', '.join(sorted(TOPICS))}",
            )


async def get_webhook(ctx: ConfigContext, webhook_id: uuid.UUID) -> Webhook:
    webhook = found(await ctx.uow.webhooks.get(webhook_id), "webhook")
    # Operator-wide webhooks (no site) are for unscoped tokens only.
    ctx.who.check_site(webhook.site_id, "webhook")
    return webhook


async def create_webhook(ctx: ConfigContext, data: dict[str, Any]) -> Webhook:
    ctx.who.require_technical("webhooks")
    webhook = Webhook(id=uuid.uuid4(), site_id=data.get("site_id"))
    await _check_site(ctx, webhook.site_id)
    assign(webhook, with_defaults(data, FIELDS), FIELDS)
    check_events(webhook.events)
    ctx.uow.webhooks.add(webhook)
    ctx.changed("webhook", webhook.id, webhook.site_id, "created", data)
    await ctx.commit()
    return webhook


async def update_webhook(
    ctx: ConfigContext, webhook_id: uuid.UUID, data: dict[str, Any]
) -> Webhook:
    webhook = await get_webhook(ctx, webhook_id)
    ctx.who.require_technical("webhooks")
    changed = assign(webhook, data, FIELDS)
    check_events(webhook.events)
    await ctx.commit_update("webhook", webhook.id, webhook.site_id, changed)
    return webhook


async def delete_webhook(ctx: ConfigContext, webhook_id: uuid.UUID) -> None:
    webhook = await get_webhook(ctx, webhook_id)
    ctx.who.require_technical("webhooks")
    await ctx.uow.webhooks.delete(webhook)
    ctx.changed("webhook", webhook_id, webhook.site_id, "deleted")
    await ctx.commit()


async def _check_site(ctx: ConfigContext, site_id: uuid.UUID | None) -> None:
    if site_id is None and ctx.who.unscoped:
        return
    ctx.who.check_site(site_id, "site")
    if site_id is None or await ctx.uow.sites.get(site_id) is None:
        raise InvalidValue.of("site_id", "no such site")
