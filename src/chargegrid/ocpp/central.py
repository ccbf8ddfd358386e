"""The OCPP central system as one component: store, group-commit writer, handlers,
command gateway and the WebSocket listener, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.meter_inbox import COMPACT_CHUNK
from chargegrid.ocpp.schemas import schemas
from chargegrid.ocpp.server import OcppServer, PasswordCheck
from chargegrid.ocpp.storage import SqlChargerStore
from chargegrid.services.auth import verify_password
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import EventSink
from chargegrid.services.group_commit import GroupCommitWriter

log = logging.getLogger(__name__)


class OcppCentralSystem:
    def __init__(
        self,
        engine: AsyncEngine,
        events: EventSink,
        *,
        auto_register: bool = False,
        unknown_tags_accepted: bool = False,
        heartbeat_interval: int = 300,
        check_password: PasswordCheck = verify_password,
        compact_every_s: float = 0.5,
    ) -> None:
        self.store = SqlChargerStore(engine)
        self.writer = GroupCommitWriter(self.store)
        self.gateway = CommandGateway()
        self.messages = ChargerMessages(
            self.store,
            self.writer,
            events,
            auto_register=auto_register,
            unknown_tags_accepted=unknown_tags_accepted,
            heartbeat_interval=heartbeat_interval,
        )
        self.server = OcppServer(self.messages, self.gateway, check_password)
        self.compact_every_s = compact_every_s
        self._compactor: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        schemas("v16")  # compile before the first charger waits for it
        while await self.store.compact():  # what a previous run committed but never moved
            pass
        self.writer.start()
        self._compactor = asyncio.get_running_loop().create_task(
            self._compact_forever(), name="meter-inbox-compactor"
        )
        await self.server.start(host, port)
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop()
        await self.writer.stop()
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        while await self.store.compact():
            pass
        await self.store.close()

    async def _compact_forever(self) -> None:
        while True:
            await asyncio.sleep(self.compact_every_s)
            try:
                while await self.store.compact() >= COMPACT_CHUNK:
                    pass  # behind: keep going, chunk by chunk
                await self.store.checkpoint()
            except Exception:
                log.exception("meter inbox compaction failed; retrying")
