"""One OCPP-J connection, independent of the socket library.

A transport is anything with ``recv``/``send``/``close`` (the websockets adapter in
``server.py``, a fake in unit tests). The connection reads frames, answers the peer's
CALLs with its handlers, and matches our own CALLs to their answers. Both the central
system and the simulated chargers run on it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chargegrid.metrics import OCPP_BAD_FRAMES, count_ocpp
from chargegrid.ocpp.errors import CallErrorReceived, ErrorCode, InvalidAnswer, OcppCallError
from chargegrid.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)
from chargegrid.ocpp.schemas import SchemaSet

log = logging.getLogger(__name__)

Payload = dict[str, Any]


class TransportClosed(Exception):
    """The transport is gone; the connection ends."""


class Transport(Protocol):
    async def recv(self) -> bytes | str: ...

    async def send(self, data: bytes) -> None: ...

    # Optional: ``send_now(data) -> bool`` writes a frame at once when that needs no
    # waiting (see WebSocketTransport.send_now); False means "await send instead".

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer plus work to start once the answer has left (e.g. pushing
    configuration after a BootNotification, which must not precede its reply)."""

    payload: Payload
    then: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[Payload], Awaitable[Payload | Reply]]


def _consume(future: asyncio.Future[Payload]) -> None:
    if not future.cancelled():
        future.exception()


class OcppConnection:
    """Frames in, answers out; our CALLs wait for the peer's answer with a deadline."""

    def __init__(
        self,
        transport: Transport,
        handlers: Mapping[str, Handler],
        schemas: SchemaSet,
        peer_actions: frozenset[str],
        name: str = "",
    ) -> None:
        self.transport = transport
        self.handlers = handlers
        self.schemas = schemas
        self.peer_actions = peer_actions
        self.name = name
        self._pending: dict[str, tuple[str, asyncio.Future[Payload]]] = {}
        self._ids = itertools.count(1)
        self._send_now: Callable[[bytes], bool] | None = getattr(transport, "send_now", None)
        self._background: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()

    async def serve(self) -> None:
        """Read and answer frames until the transport closes."""
        try:
            while True:
                try:
                    raw = await self.transport.recv()
                except TransportClosed:
                    return
                await self.handle_frame(raw)
        finally:
            self._shutdown()

    async def handle_frame(self, raw: bytes | str) -> None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            OCPP_BAD_FRAMES.inc()
            log.info("%s: bad frame: %s", self.name, exc)
            if exc.answer:
                code = self.schemas.spell(exc.code)
                await self._send(encode_error(exc.unique_id, code, exc.description))
            else:
                # A broken answer (OCPP-J never answers one): the call it names, if it
                # is ours and still waiting, fails now instead of at its deadline.
                self._settle_invalid(exc.unique_id, exc.description)
            return
        if isinstance(frame, Call):
            await self._answer(frame)
        elif isinstance(frame, CallResult):
            self._settle(frame.unique_id, frame.payload, None)
        else:
            self._settle(frame.unique_id, None, frame)

    async def _answer(self, call: Call) -> None:
        try:
            handler = self._handler_for(call.action)
            self.schemas.check_request(call.action, call.payload)
            reply = await handler(call.payload)
        except OcppCallError as exc:
            count_ocpp("received", call.action, "call_error", call.action in self.schemas.requests)
            code = self.schemas.spell(exc.code)
            await self._send(encode_error(call.unique_id, code, exc.description, exc.details))
            return
        except Exception:
            count_ocpp("received", call.action, "internal_error")
            log.exception("%s: %s handler failed", self.name, call.action)
            await self._send(
                encode_error(call.unique_id, ErrorCode.INTERNAL_ERROR, f"{call.action} failed")
            )
            return
        if isinstance(reply, Reply):
            payload, then = reply.payload, reply.then
        else:
            payload, then = reply, None
        count_ocpp("received", call.action, "result")
        await self._send(encode_result(call.unique_id, payload))
        if then is not None:
            self.spawn(then)

    def _handler_for(self, action: str) -> Handler:
        if action not in self.schemas.requests:
            raise OcppCallError(ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}")
        handler = self.handlers.get(action)
        if handler is None or action not in self.peer_actions:
            raise OcppCallError(ErrorCode.NOT_SUPPORTED, f"{action} is not supported here")
        return handler

    def _settle(self, unique_id: str, payload: Payload | None, error: CallError | None) -> None:
        entry = self._pending.pop(unique_id, None)
        if entry is None:
            log.info("%s: answer to unknown or expired call %s", self.name, unique_id)
            return
        action, future = entry
        if future.done():
            return
        if error is not None:
            count_ocpp("sent", action, "call_error")
            future.set_exception(
                CallErrorReceived(action, error.code, error.description, error.details)
            )
            return
        try:
            self.schemas.check_response(action, payload)
        except OcppCallError as exc:
            count_ocpp("sent", action, "invalid_answer")
            future.set_exception(InvalidAnswer(action, exc.description))
            return
        assert payload is not None
        count_ocpp("sent", action, "result")
        future.set_result(payload)

    def _settle_invalid(self, unique_id: str, description: str) -> None:
        entry = self._pending.pop(unique_id, None)
        if entry is None:
            return
        action, future = entry
        count_ocpp("sent", action, "invalid_answer")
        if not future.done():
            future.set_exception(InvalidAnswer(action, description))

    # The deadline belongs to the pending-call entry, hence an argument (not asyncio.timeout).
    async def call(
        self,
        action: str,
        payload: Payload,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> Payload:
        """Send a CALL and wait for its CALLRESULT.

        Raises OcppCallError if ``payload`` breaks the schema (nothing is sent),
        CallErrorReceived if the peer answers with a CALLERROR, InvalidAnswer if its
        answer breaks the response schema, TimeoutError after
        ``timeout`` seconds and TransportClosed if the connection ends first.
        """
        # On timeout wait_for cancels the future, and a cancelled call is forgotten.
        return await asyncio.wait_for(await self.start_call(action, payload), timeout)

    async def start_call(self, action: str, payload: Payload) -> asyncio.Future[Payload]:
        """Send a CALL and return the future of its answer, without waiting for it.

        The outcomes of :meth:`call`, but one sender can put a thousand calls on their
        sockets in a row and then wait for all the answers at once: no task per call,
        and the writes are not interleaved with answers being read. The future has no
        deadline of its own: the caller bounds its wait and cancels the future to give
        up, which forgets the call (one timer per wave, not one per call: a uvloop
        timer costs ~6 µs to arm and cancel). Raises at once (nothing pending) if the
        payload breaks the schema or the connection is already closed.
        """
        if self.closed.is_set():
            raise TransportClosed(self.name)
        self.schemas.check_request(action, payload)
        unique_id = str(next(self._ids))
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        # If nobody waits for it (cancelled, or a timeout nobody looked at), its
        # exception must still count as seen.
        future.add_done_callback(_consume)
        self._pending[unique_id] = (action, future)
        future.add_done_callback(lambda _: self._pending.pop(unique_id, None))
        data = encode_call(unique_id, action, payload)
        try:
            if not self._write_now(data):
                await self._send(data)
        except BaseException:
            future.cancel()
            raise
        return future

    def _write_now(self, data: bytes) -> bool:
        """Write without awaiting where the transport can; False: await ``_send``."""
        if self._send_now is None:
            return False
        try:
            return self._send_now(data)
        except TransportClosed:
            log.info("%s: transport closed while sending", self.name)
            return True  # as _send: the pending call fails when the connection ends

    def _forget(self, unique_id: str, deadline: asyncio.TimerHandle) -> None:
        deadline.cancel()
        self._pending.pop(unique_id, None)

    async def _send(self, data: bytes) -> None:
        try:
            await self.transport.send(data)
        except TransportClosed:
            log.info("%s: transport closed while sending", self.name)

    def spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` beside the read loop; it is cancelled when the connection ends.

        A factory, not a coroutine: work cancelled before it started is then never
        created, rather than left un-awaited."""

        async def guarded() -> None:
            try:
                await work()
            except (TransportClosed, asyncio.CancelledError):
                pass
            except Exception:
                log.exception("%s: background work failed", self.name)

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.transport.close(code, reason)

    def _shutdown(self) -> None:
        self.closed.set()
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(TransportClosed(self.name))
        self._pending.clear()
        for task in list(self._background):
            task.cancel()
