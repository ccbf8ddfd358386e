from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chargegrid.api.schemas.common import ReadModel


class EventLogEntry(ReadModel):
    """One entry of ``GET /events``: a charger's event (its bus payload in ``data``) or
    a configuration change with who made it (``data.changes``: field -> old, new)."""

    id: int
    at: datetime
    # A bus topic: charger.connected, charger.status_changed, session.stopped,
    # charger.security_event, config.changed, ...
    type: str
    site_id: uuid.UUID | None
    charger_id: uuid.UUID | None
    # Who: the token's name (or "token <id>"), its role; "system" for the server's own
    # changes; null for what a charger did.
    actor: str | None
    actor_role: str | None
    actor_token_id: uuid.UUID | None
    # What a change was made to (site, circuit, charger, evse, connector, id_tag, ...).
    subject: str | None
    subject_id: str | None
    data: dict[str, Any]
