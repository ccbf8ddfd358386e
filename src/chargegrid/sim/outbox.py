"""Messages that must reach the CSMS in order, transaction messages even across outages
and reboots: StartTransaction, MeterValues and StopTransaction wait here and are sent
once the charger is connected and registered; a message whose answer was lost is re-sent
byte for byte (the CSMS recognises the repeat). Status changes go through here too, so
that they keep their place among the transaction messages."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.ocpp.errors import AnswerError

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0


@dataclass
class Outgoing:
    action: str
    build: Callable[[], Payload]
    on_result: Callable[[Payload], None] | None = None
    payload: Payload | None = None  # built once: a retry repeats it byte for byte
    # A StatusNotification: sent in order with the transaction messages (a charger sends
    # StopTransaction before the Available that follows it), but not replayed after a
    # reconnect, where the charger reports every connector's status afresh.
    transient: bool = False


class Outbox:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: deque[Outgoing] = deque()
        self.ready = asyncio.Event()
        self.emptied = asyncio.Event()  # set whenever the last item has been delivered

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def append(self, item: Outgoing) -> None:
        self.items.append(item)
        self.ready.set()
        self.emptied.clear()

    def drop_transient(self) -> None:
        self.items = deque(item for item in self.items if not item.transient)
        if not self.items:
            self.emptied.set()

    async def drain(self, connection: OcppConnection) -> None:
        """Send forever; TransportClosed / TimeoutError end it with the item kept first."""
        while True:
            while not self.items:
                self.ready.clear()
                await self.ready.wait()
            item = self.items[0]
            if item.payload is None:
                item.payload = item.build()
            try:
                result = await connection.call(item.action, item.payload, CALL_TIMEOUT)
            except AnswerError as exc:
                log.warning("%s: %s refused: %s", self.name, item.action, exc)
                self.items.popleft()  # a CallError is final; a retry would get the same
                if not self.items:
                    self.emptied.set()
                continue
            self.items.popleft()
            if item.on_result is not None:
                item.on_result(result)
            if not self.items:
                self.emptied.set()
