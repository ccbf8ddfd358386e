"""Revoked API tokens stop working on every node within about a second.

Tokens are revoked in the database (``chargegrid token revoke``, a separate process with
no bus and no NATS), so the database is where every node learns of it: each node reads,
every ``every_s``, the tokens revoked since a moment a little before its last look, and
drops them from its principal cache. One small query a second per node, and no message
that a node cut off from NATS could miss. The cache's own TTL (5 s) bounds it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from chargegrid.services.auth import PrincipalCache
from chargegrid.store.db import Database
from chargegrid.store.models import ApiToken
from chargegrid.store.types import utcnow

log = logging.getLogger(__name__)

HANDLE = "principals"  # the API's PrincipalCache in runtime.handles (app.build_app)
# Clocks differ: the revoking process stamps revoked_at with its own. Looking this far
# back each time costs nothing (dropping an entry twice is harmless).
OVERLAP = timedelta(seconds=30)


class RevocationWatch:
    def __init__(
        self,
        db: Database,
        cache: PrincipalCache,
        every_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.cache = cache
        self.every_s = every_s
        self.clock = clock
        self._since = clock() - OVERLAP
        self.dropped = 0

    async def check(self) -> int:
        """One look: drop the tokens revoked lately. How many cache entries went."""
        now = self.clock()
        async with self.db.session() as session:
            ids = set(
                await session.scalars(
                    select(ApiToken.id).where(ApiToken.revoked_at >= self._since - OVERLAP)
                )
            )
        self._since = now
        dropped = self.cache.forget_tokens(ids) if ids else 0
        self.dropped += dropped
        return dropped

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.check()
            except Exception as exc:  # the database away: the cache TTL still bounds it
                log.warning("could not read revoked tokens: %s", exc)


@asynccontextmanager
async def revocation_watch(runtime: Any) -> AsyncIterator[RevocationWatch | None]:
    """The app component: watches for the API's principal cache, if the API runs."""
    cache = runtime.handles.get(HANDLE)
    if not isinstance(cache, PrincipalCache):
        yield None
        return
    watch = RevocationWatch(runtime.db, cache)
    task = asyncio.create_task(watch.run(), name="revocation-watch")
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
