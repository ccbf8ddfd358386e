"""The OCPP-J WebSocket listener: ``ws://HOST:PORT/ocpp/{ocpp_id}``, subprotocols
ocpp2.0.1 and ocpp1.6.

The handshake decides who may connect (known id, or auto-registration; HTTP Basic
auth when the charger has a password: security profile 1) and in which version: the
best one the charger offers, or the one an operator pinned (``ocpp.versions``). After
it, each socket is an :class:`OcppConnection` with that version's handlers, registered
with the command gateway; a second connection for the same id replaces the first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import weakref
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chargegrid.domain.errors import InvalidValue, NotFound
from chargegrid.domain.identifiers import check_ocpp_id
from chargegrid.logging_setup import current_charger
from chargegrid.metrics import CHARGERS_CONNECTED
from chargegrid.ocpp.boot_sequence import BootSequence, BootSettings, LimitsFirst
from chargegrid.ocpp.connection import OcppConnection
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.handshake_security import HandshakeGuard, profile_refusal
from chargegrid.ocpp.handshake_security import PasswordCheck as PasswordCheck  # central.py
from chargegrid.ocpp.schemas import schemas
from chargegrid.ocpp.transport import WebSocketTransport
from chargegrid.ocpp.versions import SUBPROTOCOLS, V16, ProtocolVersion, negotiate
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord
from chargegrid.services.security_events import FAILED_AUTHENTICATION

log = logging.getLogger(__name__)

PATH_PREFIX = "/ocpp/"
# The socket's hard limit; frames above frames.MAX_FRAME_BYTES but below this get an
# OCPP CallError instead of a dropped connection.
MAX_SOCKET_FRAME = 1024 * 1024
# A reconnect storm (issue 13: 10,000 chargers at once). asyncio's default listen
# backlog of 100 overflowed: the kernel dropped the rest of the SYNs and the chargers
# retried after 1, 3, 7 s... (the kernel caps it at net.core.somaxconn). And a
# handshake waits its turn for the database lookup that admits it: the 10 s default
# timed out thousands that were nearly done, and each came back to start over.
HANDSHAKE_OPTIONS: dict[str, Any] = {"backlog": 16384, "open_timeout": 60}


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class OcppServer:
    def __init__(
        self,
        messages: ChargerMessages,
        gateway: CommandGateway,
        check_password: PasswordCheck,
        limits_first: LimitsFirst | None = None,
        boot_settings: BootSettings | None = None,
    ) -> None:
        self.messages = messages
        self.gateway = gateway
        self.check_password = check_password
        # Forwarded TLS, pending passwords and security events: ocpp.security_setup.
        self.guard = HandshakeGuard(check_password)
        self.limits_first = limits_first
        self.boot_settings = boot_settings or BootSettings()
        # Weak: a handshake admitted here may still end before its session starts (a
        # charger that gave up during its lookup, in a storm); nothing else pops it.
        self._admitted: weakref.WeakKeyDictionary[
            ServerConnection, tuple[ChargerRecord, ProtocolVersion]
        ] = weakref.WeakKeyDictionary()
        self._servers: list[Server] = []
        self._versions: dict[str, ProtocolVersion] = {}  # per charger, its last connection
        self._replaced: set[asyncio.Task[None]] = set()  # old connections being closed
        # Cluster mode: has a newer connection on another node replaced this charger's?
        self.superseded: Callable[[str], Awaitable[bool]] | None = None

    async def start(self, host: str, port: int, **options: Any) -> Server:
        """Listen on ``host:port``; with ``ssl=`` a TLS context, that listener is wss
        (security profiles 2 and 3). Call once per listener."""
        server = await serve(
            self._session,
            host,
            port,
            subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
            select_subprotocol=self._select_subprotocol,
            process_request=self._handshake,
            compression=None,  # permessage-deflate costs ~40 KB per idle connection
            max_size=MAX_SOCKET_FRAME,
            **(HANDSHAKE_OPTIONS | options),
        )
        self._servers.append(server)
        return server

    @property
    def port(self) -> int:
        """The first listener's port (plain ws, as ``OcppCentralSystem.start`` opens it)."""
        return self.port_of(0)

    def port_of(self, index: int) -> int:
        return int(self._servers[index].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _handshake(self, ws: ServerConnection, request: Request) -> Response | None:
        # Every refusal is logged with the charger id and the reason: a charger that
        # cannot connect is otherwise invisible to its operator.
        path = request.path.split("?", 1)[0]
        peer = _peer(ws)
        if not path.startswith(PATH_PREFIX):
            log.warning("refused a handshake from %s: path %r is not /ocpp/{id}", peer, path)
            return ws.respond(HTTPStatus.NOT_FOUND, "OCPP lives at /ocpp/{charge point id}\n")
        ocpp_id = unquote(path[len(PATH_PREFIX) :])
        # Every line logged for this handshake and, in the same task, its connection
        # names the charger (logging_setup.py); an invalid id is quoted, never trusted.
        current_charger.set(ocpp_id[:64])
        try:
            check_ocpp_id(ocpp_id)
        except InvalidValue as exc:
            log.warning("refused charger %r from %s: invalid id (%s)", ocpp_id, peer, exc)
            return ws.respond(HTTPStatus.BAD_REQUEST, f"{exc}\n")
        offered = _offered_subprotocols(request.headers)
        if not set(offered) & set(SUBPROTOCOLS):
            log.warning(
                "refused charger %s from %s: subprotocols %s offered, %s spoken here",
                ocpp_id,
                peer,
                offered or "none",
                SUBPROTOCOLS,
            )
            return ws.respond(
                HTTPStatus.BAD_REQUEST,
                f"no supported OCPP subprotocol offered; this server speaks {SUBPROTOCOLS}\n",
            )
        record = await self.messages.identify(ocpp_id)
        if record is None:
            log.warning("refused charger %s from %s: unknown charge point id", ocpp_id, peer)
            return ws.respond(HTTPStatus.NOT_FOUND, "unknown charge point\n")
        version = negotiate(offered, record.ocpp_version_pin)
        if version is None:
            log.warning(
                "refused charger %s from %s: offered %s, pinned to OCPP %s",
                ocpp_id,
                peer,
                offered,
                record.ocpp_version_pin,
            )
            return ws.respond(
                HTTPStatus.BAD_REQUEST,
                f"this charge point is pinned to OCPP {record.ocpp_version_pin}\n",
            )
        if record.registration_status == "Rejected":
            log.warning("refused charger %s from %s: registration Rejected", ocpp_id, peer)
            return ws.respond(HTTPStatus.FORBIDDEN, "charge point rejected\n")
        # Security profile, channel (TLS direct or via a trusted proxy), password:
        # ocpp/handshake_security.py. Each refusal is a CSMS security event too.
        channel = self.guard.channel(ws, request.headers, record)
        refusal = profile_refusal(channel, record)
        if refusal is not None:
            log.warning("refused charger %s from %s: %s", ocpp_id, peer, refusal.why)
            self.guard.note(record, refusal.event, refusal.why)
            return ws.respond(refusal.status, f"{refusal.why}\n")
        if record.security_profile < 3:
            why = await self.guard.authenticate(record, basic_credentials(request.headers))
            if why is not None:
                log.warning("refused charger %s from %s: %s", ocpp_id, peer, why)
                self.guard.note(record, FAILED_AUTHENTICATION, why)
                response = ws.respond(HTTPStatus.UNAUTHORIZED, "credentials required\n")
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
                return response
        self._admitted[ws] = (record, version)
        return None

    def _select_subprotocol(self, ws: ServerConnection, offered: Any) -> Any:
        """What the handshake negotiated (it refused the rest already)."""
        admitted = self._admitted.get(ws)
        return admitted[1].subprotocol if admitted is not None else None

    async def _session(self, ws: ServerConnection) -> None:
        admitted = self._admitted.pop(ws, None)
        if admitted is None:  # pragma: no cover - the handshake always admits first
            await ws.close(1011, "not admitted")
            return
        record, version = admitted
        ocpp_id = record.ocpp_id
        handlers = version.central_system(record, self.messages)
        connection = OcppConnection(
            WebSocketTransport(ws),
            handlers.handlers(),
            schemas(version.schema_key),
            version.charger_actions,
            name=ocpp_id,
        )
        self._versions[ocpp_id] = version

        async def sync() -> None:
            await version.sync_after_boot(connection, handlers.charger, self.messages)

        handlers.registration = BootSequence(
            connection,
            self.gateway,
            self.messages,
            lambda: handlers.charger,
            sync,
            self.limits_first,
            self.boot_settings,
            version.name,
        )
        # Reachable only once it has spoken (BootSequence marks it ready).
        previous = self.gateway.attach(ocpp_id, connection, ready=False, encoder=version.encode)
        if previous is not None:
            log.info("%s: new connection replaces the old one", ocpp_id)
            # Not awaited: a dead link answers no close frame, and the new connection
            # would wait the whole close timeout before reading its charger's boot.
            self._closing_replaced(previous)
        await self.messages.connected(record, version.name)
        handlers.registration.start()
        connected = CHARGERS_CONNECTED.labels(version.name)
        connected.inc()
        try:
            await connection.serve()
        finally:
            connected.dec()
            if self.gateway.detach(ocpp_id, connection):
                await asyncio.shield(self._ended(record))

    async def _ended(self, record: ChargerRecord) -> None:
        """The charger's connection here ended: it is offline, unless (cluster mode) a
        newer connection on another node replaced this one already."""
        if self.superseded is not None and await self.superseded(record.ocpp_id):
            log.info("%s: connection ended; it is connected to another node now", record.ocpp_id)
            return
        await self.messages.disconnected(record)

    def _closing_replaced(self, previous: OcppConnection) -> None:
        task = asyncio.get_running_loop().create_task(
            previous.close(1000, "replaced by a new connection")
        )
        self._replaced.add(task)
        task.add_done_callback(self._replaced.discard)

    async def push_settings(self, ocpp_id: str) -> str:
        """Push the charger's settings now (after an operator changed them); its
        ``config_sync``. Raises Conflict through the gateway when it is offline."""
        connection = self.gateway.connection(ocpp_id)
        record = await self.messages.store.charger(ocpp_id)
        if record is None:
            raise NotFound(f"charger {ocpp_id} no longer exists")
        version = self._versions.get(ocpp_id, V16)
        return await version.push_settings(connection, record, self.messages)


def _peer(ws: ServerConnection) -> str:
    address = ws.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _offered_subprotocols(headers: Headers) -> list[str]:
    return [
        token.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]
