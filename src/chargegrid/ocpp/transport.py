"""A ``websockets`` connection (server or client side) as an OCPP transport."""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from chargegrid.ocpp.connection import TransportClosed


class WebSocketTransport:
    """Text frames both ways; received frames stay bytes (orjson parses them directly,
    no decoding copy)."""

    __slots__ = ("ws",)

    def __init__(self, ws: Connection) -> None:
        self.ws = ws

    async def recv(self) -> bytes | str:
        try:
            return await self.ws.recv(decode=False)
        except ConnectionClosed:
            raise TransportClosed from None

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send(data, text=True)
        except ConnectionClosed:
            raise TransportClosed from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
