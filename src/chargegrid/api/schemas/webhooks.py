from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AnyHttpUrl, Field, field_validator

from chargegrid.api.schemas.common import NotNull, Timestamps, WriteModel

Topic = Annotated[str, Field(min_length=1, max_length=64, examples=["session.*"])]


class WebhookUpdate(WriteModel):
    url: AnyHttpUrl = NotNull(description="http(s) URL the events are POSTed to")
    events: list[Topic] = NotNull(min_length=1, max_length=20)
    secret: str = NotNull(min_length=16, max_length=200, description="Write-only; HMAC-SHA256 key")
    enabled: bool | None = Field(None, strict=True)

    @field_validator("url")
    @classmethod
    def _short_url(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and len(str(value)) > 2000:
            raise ValueError("at most 2000 characters")
        return value


class WebhookCreate(WebhookUpdate):
    url: AnyHttpUrl
    events: list[Topic] = Field(min_length=1, max_length=20)
    secret: str = Field(min_length=16, max_length=200)
    site_id: uuid.UUID | None = Field(None, description="Only this site's events")


class WebhookOut(Timestamps):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    site_id: uuid.UUID | None
