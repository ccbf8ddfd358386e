"""What the conformance tests of blocks L, N, P and A share: a notice a station sent,
as the CSMS stored it (``charger_notices``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chargegrid.store.ocpp_tables import charger_notices
from tests.e2e.conftest import Csms, eventually


async def notices(csms: Csms, action: str, count: int = 1) -> list[dict[str, Any]]:
    """The payloads of the ``action`` notices stored, once there are ``count``."""
    query = select(charger_notices).where(charger_notices.c.action == action)

    async def stored() -> bool:
        return len(await csms.rows(query)) >= count

    await eventually(stored, what=f"{count} {action} stored")
    return [row.payload for row in await csms.rows(query.order_by(charger_notices.c.id))]
