"""The OCPP central system as one component: store, group-commit writer, handlers,
command gateway and the WebSocket listener, started and stopped together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.schemas import schemas
from chargegrid.ocpp.server import OcppServer, PasswordCheck
from chargegrid.ocpp.storage import SqlChargerStore
from chargegrid.services.auth import verify_password
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import EventSink
from chargegrid.services.group_commit import GroupCommitWriter


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

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        schemas("v16")  # compile before the first charger waits for it
        self.writer.start()
        await self.server.start(host, port)
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop()
        await self.writer.stop()
