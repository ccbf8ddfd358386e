"""The command gateway: send a CALL to a connected charger and get its answer.

The actions API, the post-boot exchange and the load manager all go through here.
A charger is reachable only once it is *ready*: it has spoken first on its connection
and, if that was a BootNotification, been answered Accepted (chargers may refuse or
ignore anything before they are registered). Until then it counts as offline.
Errors are the domain's: Conflict when the charger is offline or not ready (or leaves
while we wait), ChargerTimeout when it does not answer in time, InvalidValue when the payload
breaks the OCPP schema (nothing is sent). A CallError or a malformed answer raises
``ocpp.errors.AnswerError`` (the charger said no).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chargegrid.domain.errors import ChargerTimeout, Conflict, InvalidValue
from chargegrid.ocpp.connection import OcppConnection, Payload, TransportClosed
from chargegrid.ocpp.errors import OcppCallError
from chargegrid.services.charger_commands import Command

Encoder = Callable[[Command], tuple[str, dict[str, Any]]]
# Told of every command's answer (the OCPP server stores device-model results).
Observer = Callable[[str, str, Mapping[str, Any], Payload], Awaitable[None]]
# How many items a charger takes in one CALL of an action (2.0.1 DeviceDataCtrlr
# ItemsPerMessage[GetVariables|SetVariables]); None: not known, one CALL.
ItemsLimit = Callable[[str, str], Awaitable[int | None]]
# Actions whose list a charger may cap per message: (request list, answer list).
SPLITTABLE = {
    "GetVariables": ("getVariableData", "getVariableResult"),
    "SetVariables": ("setVariableData", "setVariableResult"),
}

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class CommandGateway:
    def __init__(self) -> None:
        self._live: dict[str, OcppConnection] = {}
        self._ready: set[str] = set()
        self._encoders: dict[OcppConnection, Encoder] = {}
        self.observer: Observer | None = None
        self.items_limit: ItemsLimit | None = None

    def attach(
        self,
        ocpp_id: str,
        connection: OcppConnection,
        *,
        ready: bool,
        encoder: Encoder | None = None,
    ) -> OcppConnection | None:
        """Make ``connection`` the charger's (reachable at once only if ``ready``);
        return the one it replaces, if any. ``encoder`` writes commands in the OCPP
        version negotiated on it (``ocpp.versions``)."""
        previous = self._live.get(ocpp_id)
        if previous is not None:
            self._encoders.pop(previous, None)
        self._live[ocpp_id] = connection
        if encoder is not None:
            self._encoders[connection] = encoder
        if ready:
            self._ready.add(ocpp_id)
        else:
            self._ready.discard(ocpp_id)
        return previous

    def mark_ready(self, ocpp_id: str, connection: OcppConnection) -> bool:
        """The charger registered on ``connection``; False if a newer one replaced it."""
        if self._live.get(ocpp_id) is not connection:
            return False
        self._ready.add(ocpp_id)
        return True

    def detach(self, ocpp_id: str, connection: OcppConnection) -> bool:
        """Forget ``connection`` unless a newer one replaced it; True if it was current."""
        if self._live.get(ocpp_id) is connection:
            del self._live[ocpp_id]
            self._encoders.pop(connection, None)
            self._ready.discard(ocpp_id)
            return True
        return False

    async def disconnect(self, ocpp_id: str, reason: str) -> bool:
        """Close the charger's connection, ready or not (its charger was deleted:
        nothing it sends may be stored any more, and a charger created again with the
        same id must start on a new connection). False if it was not connected."""
        connection = self._live.get(ocpp_id)
        if connection is None:
            return False
        log.info("%s: closing its connection: %s", ocpp_id, reason)
        await connection.close(1000, reason[:120])
        return True

    def connection(self, ocpp_id: str) -> OcppConnection:
        """The live connection of ``ocpp_id``; Conflict if it is offline or not ready."""
        connection = self._live.get(ocpp_id)
        if connection is None:
            raise Conflict(f"charger {ocpp_id} is offline")
        if ocpp_id not in self._ready:
            raise Conflict(
                f"charger {ocpp_id} is connected but has not registered on this connection "
                "yet (no BootNotification accepted, nothing said)"
            )
        return connection

    def is_connected(self, ocpp_id: str) -> bool:
        """This process holds a connection of the charger (ready or not)."""
        return ocpp_id in self._live

    def is_online(self, ocpp_id: str) -> bool:
        """Connected and ready: calls may be sent."""
        return ocpp_id in self._ready

    def online(self) -> list[str]:
        return [ocpp_id for ocpp_id in self._live if ocpp_id in self._ready]

    def connected(self) -> list[str]:
        """Every charger with a connection, ready or not."""
        return list(self._live)

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (the call's own deadline)
    ) -> Payload:
        connection = self.connection(ocpp_id)
        try:
            return await connection.call(action, dict(payload), timeout)
        except TimeoutError:
            raise ChargerTimeout(
                f"charger {ocpp_id} did not answer {action} within {timeout:g} s"
            ) from None
        except TransportClosed as exc:
            raise _domain_error(ocpp_id, exc) from None
        except OcppCallError as exc:
            raise _invalid(exc) from None

    async def command(
        self,
        ocpp_id: str,
        command: Command,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> Payload:
        """Send ``command`` in the charger's own OCPP version (InvalidValue where that
        version has no such message; nothing is sent then)."""
        connection = self.connection(ocpp_id)
        encoder = self._encoders.get(connection)
        if encoder is None:
            raise Conflict(f"charger {ocpp_id}: no OCPP version known for its connection")
        action, payload = encoder(command)
        return await self.send_encoded(ocpp_id, action, payload, timeout)

    async def send_encoded(
        self,
        ocpp_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> Payload:
        """A command another node encoded for this charger's version (cluster routing):
        sent in parts as the charger asks, its answer observed like :meth:`command`'s."""
        answer = await self._send_in_parts(ocpp_id, action, payload, timeout)
        if self.observer is not None:
            await self.observer(ocpp_id, action, payload, answer)
        return answer

    async def _send_in_parts(
        self,
        ocpp_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Payload:
        """One CALL, or as many as the charger's ItemsPerMessage asks for (B06.FR.05),
        their answers' lists joined in order."""
        keys = SPLITTABLE.get(action)
        limit = None
        if keys is not None and self.items_limit is not None:
            limit = await self.items_limit(ocpp_id, action)
        items = payload.get(keys[0]) if keys is not None else None
        if keys is None or not limit or not isinstance(items, list) or len(items) <= limit:
            return await self.send(ocpp_id, action, payload, timeout)
        joined: list[Any] = []
        for start in range(0, len(items), limit):
            part = {**payload, keys[0]: items[start : start + limit]}
            answer = await self.send(ocpp_id, action, part, timeout)
            joined += answer.get(keys[1]) or []
        return {keys[1]: joined}

    async def start(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Payload]:
        """Put the call on the charger's socket now; the future of its answer.

        For a sender with many calls to make (the load manager's waves): no task and no
        timer per call. The future has no deadline: the caller bounds its wait and
        cancels it to give up (the call is then forgotten). The errors are those of
        :meth:`send`: raised here if nothing was sent (offline, a payload that breaks
        the schema), else set on the future.
        """
        connection = self.connection(ocpp_id)
        try:
            inner = await connection.start_call(action, dict(payload))
        except TransportClosed:
            raise Conflict(f"charger {ocpp_id} went offline before answering") from None
        except OcppCallError as exc:
            raise _invalid(exc) from None
        outer: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[Payload]) -> None:
            if outer.done():
                return
            if done.cancelled():
                outer.cancel()
                return
            error = done.exception()
            if error is None:
                outer.set_result(done.result())
            else:
                outer.set_exception(_domain_error(ocpp_id, error))

        inner.add_done_callback(settle)
        # Whoever gives up on the answer gives up on the call: its pending entry goes.
        outer.add_done_callback(lambda _: inner.cancel())
        return outer


def _invalid(exc: OcppCallError) -> InvalidValue:
    """Our own payload broke the schema: a caller error, nothing was sent."""
    field = str(exc.details.get("field", "payload")).removeprefix("data.")
    return InvalidValue.of(field, exc.description.removeprefix("data."))


def _domain_error(ocpp_id: str, exc: BaseException) -> BaseException:
    """A call's failure as the domain names it; a peer's own refusal passes through."""
    if isinstance(exc, TransportClosed):
        return Conflict(f"charger {ocpp_id} went offline before answering")
    return exc
