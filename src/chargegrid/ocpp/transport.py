"""A ``websockets`` connection (server or client side) as an OCPP transport."""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

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

    def send_now(self, data: bytes) -> bool:
        """Write one text frame without awaiting, if ``send`` would not have to wait
        either; False (nothing written) otherwise, and the caller awaits ``send``.

        ``Connection.send`` spends most of its ~20 µs on its async context manager (an
        async generator per frame, registered with the event loop); a wave of a
        thousand SetChargingProfile frames pays that a thousand times. The checks are
        the ones ``send`` makes before writing: the connection is open, no fragmented
        message is half sent, and the socket's buffer is not above its high-water mark
        (then ``send`` would wait for it to drain, and so do we).
        """
        ws = self.ws
        if (
            ws.protocol.state is not State.OPEN
            or ws.send_in_progress is not None
            or ws.paused
            or ws.transport.is_closing()
        ):
            return False
        ws.protocol.send_text(data)
        try:
            ws.send_data()
        except Exception:
            # As ``send`` does when a write fails: the connection is over.
            ws.transport.abort()
            raise TransportClosed from None
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
