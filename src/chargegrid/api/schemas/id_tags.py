from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from chargegrid.api.schemas.common import NotNull, Timestamp, Timestamps, WriteModel

TagText = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[\x21-\x7e]+$")]
TagStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]


class IdTagUpdate(WriteModel):
    id_tag: TagText = NotNull()
    status: TagStatus | None = None
    expires_at: Timestamp | None = None
    parent_id_tag: TagText | None = None
    site_id: uuid.UUID | None = None


class IdTagCreate(IdTagUpdate):
    id_tag: TagText


class IdTagOut(Timestamps):
    id: uuid.UUID
    id_tag: str
    status: str
    expires_at: datetime | None
    parent_id_tag: str | None
    site_id: uuid.UUID | None
