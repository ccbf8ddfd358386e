"""Commands to chargers held by other nodes: NATS request/reply, one subject per node.

:class:`RoutedGateway` is the command gateway of a cluster node (``app`` puts it where
the OCPP server's own gateway was): a charger whose socket this node holds is sent to
directly, as on one node; any other is looked up in the location registry
(``locations``) and the command goes to ``<cluster>.node.<holder>.cmd`` with

- an **id** (the holder applies a retried id once: it answers a repeat with the first
  attempt's answer, for ``DEDUPE_S``), and
- the **epoch** of the connection it is meant for: the holder refuses it unless that is
  its current connection of the charger (a reconnect, here or elsewhere, makes a new
  epoch), so a command is never delivered to a connection it was not meant for.

Commands are encoded on the caller's side in the OCPP version the registry says the
connection speaks, so the wire carries only OCPP action names and payloads.

Failures read as they do on one node: offline, a refused or stale epoch, a holder that
does not answer (gone) → ``Conflict`` (409); no answer in time → ``ChargerTimeout``
(504); a CallError or a broken answer → ``AnswerError`` (502); a payload the version
refuses → ``InvalidValue`` (422). A refused epoch is not delivered, so the router looks
the charger up once more and, if it has reconnected meanwhile, sends to the new holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from chargegrid.cluster.locations import ChargerLocations, Location
from chargegrid.cluster.metrics import COMMANDS
from chargegrid.cluster.nats_link import NatsLink
from chargegrid.domain.errors import ChargerTimeout, Conflict, FieldError, InvalidValue
from chargegrid.ocpp.connection import Payload
from chargegrid.ocpp.errors import AnswerError, CallErrorReceived, InvalidAnswer
from chargegrid.ocpp.gateway import DEFAULT_TIMEOUT, CommandGateway
from chargegrid.ocpp.versions import BY_NAME
from chargegrid.services.charger_commands import Command

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

DEDUPE_S = 120.0  # how long a holder remembers a command id and its answer
NATS_MARGIN_S = 2.0  # the request waits the charger's own deadline plus this
RETRY_WAIT_S = 2.0  # then the same command id once more, for an answer the holder kept


class StaleEpoch(Conflict):
    """The command named a connection of the charger that is not its current one."""


class HolderGone(Conflict):
    """The node the registry names for the charger does not answer (stopped or cut off)."""


def command_subject(link: NatsLink, node_id: str) -> str:
    return link.subject("node", node_id, "cmd")


class RoutedGateway:
    """The OCPP command gateway, cluster-wide (the module docstring says how)."""

    def __init__(self, link: NatsLink, local: CommandGateway, locations: ChargerLocations) -> None:
        self.link = link
        self.local = local
        self.locations = locations
        self._answers: OrderedDict[str, tuple[float, asyncio.Future[dict[str, Any]]]] = (
            OrderedDict()
        )
        self._handlers: set[asyncio.Task[None]] = set()
        self._subscription: Subscription | None = None
        self.routed = 0  # commands sent to other nodes
        self.served = 0  # commands other nodes sent here

    # -- lifecycle (not ``start``: that is the gateway's own call below) ---------------

    async def listen(self) -> None:
        self._subscription = await self.link.nc.subscribe(
            command_subject(self.link, self.link.node_id), cb=self._on_request
        )
        await self.link.nc.flush()  # subscribed at the server before anyone is told of us

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        for task in list(self._handlers):
            task.cancel()

    # -- the gateway, as the API and the control loop use it -------------------------

    def is_online(self, ocpp_id: str) -> bool:
        return self.local.is_online(ocpp_id)

    def is_connected(self, ocpp_id: str) -> bool:
        return self.local.is_connected(ocpp_id)

    def online(self) -> list[str]:
        return self.local.online()

    def connected(self) -> list[str]:
        return self.local.connected()

    async def disconnect(self, ocpp_id: str, reason: str) -> bool:
        return await self.local.disconnect(ocpp_id, reason)

    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (the call's own deadline)
    ) -> Payload:
        if self.local.is_connected(ocpp_id):
            return await self.local.send(ocpp_id, action, payload, timeout)
        return await self._routed(ocpp_id, "send", None, action, dict(payload), timeout)

    async def command(
        self,
        ocpp_id: str,
        command: Command,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> Payload:
        if self.local.is_connected(ocpp_id):
            return await self.local.command(ocpp_id, command, timeout)
        return await self._routed(ocpp_id, "command", command, "", {}, timeout)

    async def start(
        self, ocpp_id: str, action: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[Payload]:
        """As ``CommandGateway.start``: Conflict at once when the charger is connected
        nowhere; else the future of its answer (cancel it to give up)."""
        if self.local.is_connected(ocpp_id):
            return await self.local.start(ocpp_id, action, payload)
        location = await self._where(ocpp_id)
        return asyncio.ensure_future(
            self._routed(ocpp_id, "send", None, action, dict(payload), DEFAULT_TIMEOUT, location)
        )

    # -- the caller's side -----------------------------------------------------------

    async def _lookup(self, ocpp_id: str, fresh: bool = False) -> Location | None:
        try:
            return await self.locations.lookup(ocpp_id, fresh=fresh)
        except NatsError as exc:  # NATS away: we cannot know where it is
            raise _unavailable(ocpp_id, exc) from None

    async def _where(self, ocpp_id: str) -> Location:
        location = await self._lookup(ocpp_id)
        if location is not None and location.node_id == self.link.node_id:
            # Ours, says the mirror, yet not held here: it may lag the charger's move.
            location = await self._lookup(ocpp_id, fresh=True)
        if location is None or location.node_id == self.link.node_id:
            raise Conflict(f"charger {ocpp_id} is offline")
        return location

    async def _routed(
        self,
        ocpp_id: str,
        kind: str,
        command: Command | None,
        action: str,
        payload: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
        location: Location | None = None,
    ) -> Payload:
        command_id = uuid.uuid4().hex
        location = location or await self._where(ocpp_id)
        try:
            return await self._request(
                command_id, location, kind, command, action, payload, timeout
            )
        except Conflict as first:
            if not isinstance(first, StaleEpoch | HolderGone):
                raise
            # Not delivered: if the charger has reconnected meanwhile, to its new holder.
            now = await self._lookup(ocpp_id, fresh=True)
            if now is None or now.epoch == location.epoch or now.node_id == self.link.node_id:
                raise
            return await self._request(command_id, now, kind, command, action, payload, timeout)

    async def _request(
        self,
        command_id: str,
        location: Location,
        kind: str,
        command: Command | None,
        action: str,
        payload: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> Payload:
        ocpp_id = location.ocpp_id
        if command is not None:  # in the version the holder's connection speaks
            version = BY_NAME.get(location.ocpp_version or "")
            if version is None:
                raise Conflict(f"charger {ocpp_id}: no OCPP version known for its connection")
            action, payload = version.encode(command)
        body = orjson.dumps(
            {
                "id": command_id,
                "ocpp_id": ocpp_id,
                "epoch": location.epoch,
                "kind": kind,
                "action": action,
                "payload": payload,
                "timeout": timeout,
            },
            default=str,
        )
        subject = command_subject(self.link, location.node_id)
        self.routed += 1
        try:
            reply = await self._ask(subject, body, timeout)
        except NoRespondersError:
            raise HolderGone(
                f"charger {ocpp_id} is on node {location.node_id}, which does not answer"
            ) from None
        except NatsTimeout:
            raise ChargerTimeout(
                f"charger {ocpp_id} (on node {location.node_id}) did not answer {action} "
                f"within {timeout:g} s"
            ) from None
        except NatsError as exc:  # not connected, or closing
            raise _unavailable(ocpp_id, exc) from None
        answer = orjson.loads(reply.data)
        COMMANDS.labels("routed", _outcome(answer)).inc()
        return _answer_or_raise(answer)

    async def _ask(self, subject: str, body: bytes, timeout: float) -> Msg:  # noqa: ASYNC109
        """The request; if no reply comes by the charger's deadline (+ margin), once
        more with the same command id: a reply lost on the way is answered again from
        the holder's memory, and a command that never arrived is applied now, so
        either way it is applied once."""
        try:
            return await self.link.nc.request(subject, body, timeout=timeout + NATS_MARGIN_S)
        except NatsTimeout:
            return await self.link.nc.request(subject, body, timeout=RETRY_WAIT_S)

    # -- the holder's side -----------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        # NATS calls this in order, one at a time: each command gets its own task so a
        # slow charger does not hold up the others.
        task = asyncio.create_task(self._serve(msg))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, msg: Msg) -> None:
        try:
            request = orjson.loads(msg.data)
            reply = await self._once(request)
        except Exception as exc:  # a malformed request: say so, never stay silent
            log.exception("command request failed")
            reply = {"error": {"type": "internal", "message": f"{type(exc).__name__}: {exc}"}}
        COMMANDS.labels("served", _outcome(reply)).inc()
        with contextlib.suppress(Exception):  # the caller gave up or NATS is away
            await msg.respond(orjson.dumps(reply, default=str))

    async def _once(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to ``request``; a repeated id gets the first attempt's answer.
        The epoch is checked first and a refusal is not remembered: nothing was sent."""
        refusal = self._refusal(str(request["ocpp_id"]), int(request["epoch"]))
        if refusal is not None:
            return refusal
        now = time.monotonic()
        while self._answers and next(iter(self._answers.values()))[0] < now:
            self._answers.popitem(last=False)
        command_id = str(request["id"])
        known = self._answers.get(command_id)
        if known is not None:
            return await asyncio.shield(known[1])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[command_id] = (now + DEDUPE_S, future)
        try:
            result = await self._apply(request)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a repeat may never come
            raise
        future.set_result(result)
        return result

    def _refusal(self, ocpp_id: str, epoch: int) -> dict[str, Any] | None:
        mine = self.locations.epoch_of(ocpp_id)
        if mine is None or not self.local.is_connected(ocpp_id):
            return _error("gone", f"charger {ocpp_id} is not connected to node {self.link.node_id}")
        if mine != epoch:
            return _error(
                "stale",
                f"charger {ocpp_id} has reconnected: the command was for connection epoch "
                f"{epoch}, the current one is {mine}; not sent",
            )
        return None

    async def _apply(self, request: dict[str, Any]) -> dict[str, Any]:
        ocpp_id = str(request["ocpp_id"])
        action, payload = str(request["action"]), dict(request["payload"])
        timeout = float(request.get("timeout") or DEFAULT_TIMEOUT)
        self.served += 1
        try:
            if request.get("kind") == "command":
                answer = await self.local.send_encoded(ocpp_id, action, payload, timeout)
            else:
                answer = await self.local.send(ocpp_id, action, payload, timeout)
        except ChargerTimeout as exc:
            return _error("timeout", str(exc))
        except InvalidValue as exc:
            return _error("invalid", str(exc), errors=[[e.field, e.message] for e in exc.errors])
        except Conflict as exc:
            return _error("conflict", str(exc))
        except CallErrorReceived as exc:
            return _error(
                "call_error",
                str(exc),
                action=exc.action,
                code=exc.code,
                description=exc.description,
                details=exc.details,
            )
        except InvalidAnswer as exc:
            return _error(
                "invalid_answer", str(exc), action=exc.action, description=exc.description
            )
        except AnswerError as exc:
            return _error("answer", str(exc))
        return {"ok": dict(answer)}


def _unavailable(ocpp_id: str, exc: Exception) -> ChargerTimeout:
    """NATS cannot carry the command now: like a charger that does not answer (504),
    not like one that is offline (we do not know that)."""
    return ChargerTimeout(
        f"charger {ocpp_id}: cluster messaging (NATS) is unavailable: {exc or type(exc).__name__}"
    )


def _outcome(reply: dict[str, Any]) -> str:
    return "ok" if "ok" in reply else str((reply.get("error") or {}).get("type", "unknown"))


def _error(kind: str, message: str, **more: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **more}}


def _answer_or_raise(reply: dict[str, Any]) -> Payload:
    """The holder's reply as the answer, or as the error the same failure raises on
    one node."""
    if "ok" in reply:
        answer: Payload = reply["ok"]
        return answer
    error = reply.get("error") or {}
    kind, message = error.get("type"), str(error.get("message", "routing failed"))
    if kind == "stale":
        raise StaleEpoch(message)
    if kind == "gone":
        raise HolderGone(message)
    if kind == "conflict":
        raise Conflict(message)
    if kind == "timeout":
        raise ChargerTimeout(message)
    if kind == "invalid":
        raise InvalidValue([FieldError(str(f), str(m)) for f, m in error.get("errors") or []])
    if kind == "call_error":
        raise CallErrorReceived(
            str(error.get("action")),
            str(error.get("code")),
            str(error.get("description")),
            error.get("details"),
        )
    if kind == "invalid_answer":
        raise InvalidAnswer(str(error.get("action")), str(error.get("description")))
    raise AnswerError(message)
