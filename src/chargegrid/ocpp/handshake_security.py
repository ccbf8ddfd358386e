"""What the WebSocket handshake checks of a charger's security (``ocpp/server.py``):
the channel it came over (TLS directly, or through a trusted TLS-terminating proxy),
its security profile's demands on it, and its Basic auth password, including the
pending one of a rotation (``services/password_rotation.py``). Refusals become CSMS
security events (throttled per charger and kind; every one is logged).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

from chargegrid.ocpp.forwarded_tls import FORWARDING_HEADERS, Forwarded, ForwardedTls
from chargegrid.ocpp.tls import is_tls, peer_common_name
from chargegrid.services import security_events as se
from chargegrid.services.charger_ports import ChargerRecord

log = logging.getLogger(__name__)

PasswordCheck = Callable[[str, str], bool]


class PendingPasswords(Protocol):
    async def pending_password_hash(self, charger_id: uuid.UUID) -> str | None: ...

    async def promote(self, charger_id: uuid.UUID, new_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Channel:
    """How the charger reached us, as far as security goes."""

    tls: bool  # TLS to us, or to a trusted proxy that says so
    client_cn: str | None  # a verified client certificate's CN (direct or forwarded)
    certificate_error: str | None = None  # a trusted proxy's certificate that failed
    via: str = "direct"  # "direct" | "proxy"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: HTTPStatus
    why: str
    event: str  # its security event type


def profile_refusal(channel: Channel, record: ChargerRecord) -> Refusal | None:
    """Why the charger's security profile refuses this channel, if it does: profile 2
    and 3 only over TLS (no downgrade to ws), 2 with a password, 3 with a client
    certificate from our CA naming it."""
    profile = record.security_profile
    if profile < 2:
        return None
    if not channel.tls:
        return Refusal(
            HTTPStatus.FORBIDDEN,
            f"security profile {profile} requires wss (TLS)",
            se.DOWNGRADE_REFUSED,
        )
    if profile == 2:
        if not record.password_hash:
            return Refusal(
                HTTPStatus.FORBIDDEN,
                "security profile 2 needs a password set",
                se.FAILED_AUTHENTICATION,
            )
        return None
    if channel.certificate_error is not None:
        why = f"forwarded client certificate refused: {channel.certificate_error}"
        return Refusal(HTTPStatus.FORBIDDEN, why, se.INVALID_CERTIFICATE)
    name = channel.client_cn
    if name is None:
        return Refusal(
            HTTPStatus.UNAUTHORIZED,
            "security profile 3 needs a client certificate",
            se.INVALID_CERTIFICATE,
        )
    if name != record.ocpp_id:
        return Refusal(
            HTTPStatus.FORBIDDEN,
            f"client certificate names {name!r}, not this charger",
            se.INVALID_CERTIFICATE,
        )
    return None


class HandshakeGuard:
    """The handshake's security checks. Without ``forwarded`` every forwarding header
    is ignored; without ``passwords`` a rotation's pending password is not known
    (only the current one works); without ``events`` refusals are only logged."""

    def __init__(self, check_password: PasswordCheck) -> None:
        self.check_password = check_password
        self.forwarded: ForwardedTls | None = None
        self.events: se.SecurityEvents | None = None
        self.passwords: PendingPasswords | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def channel(self, ws: ServerConnection, headers: Headers, record: ChargerRecord) -> Channel:
        transport = ws.transport
        host = _host(ws)
        if self.forwarded is not None:
            forwarded = self.forwarded.judge(host, headers)
        else:
            present = tuple(h for h in FORWARDING_HEADERS if h in headers)
            forwarded = Forwarded(trusted=False, ignored=present)
        direct = Channel(is_tls(transport), peer_common_name(transport))
        if forwarded.ignored:
            why = f"ignored {', '.join(forwarded.ignored)} from {host}: not a trusted proxy"
            log.warning("charger %s: %s", record.ocpp_id, why)
            self.note(record, se.UNTRUSTED_FORWARDING, why)
        if not forwarded.trusted:
            return direct
        forwarded_cert = forwarded.common_name is not None or forwarded.certificate_error
        return Channel(
            tls=direct.tls or forwarded.tls,
            client_cn=forwarded.common_name if forwarded_cert else direct.client_cn,
            certificate_error=forwarded.certificate_error,
            via="proxy",
        )

    async def authenticate(
        self, record: ChargerRecord, credentials: tuple[str, str] | None
    ) -> str | None:
        """Why Basic auth fails, or None when it passes. The current password or a
        rotation's pending one (which then becomes the only one); a charger without a
        password needs none, unless it shows its pending one (which completes it)."""
        if record.password_hash is None:
            if credentials is not None and credentials[0] == record.ocpp_id:
                await self._try_pending(record, credentials[1])
            return None
        if credentials is None:
            return "no Basic credentials"
        user, password = credentials
        if user != record.ocpp_id:
            return "wrong user or password"
        # scrypt is slow on purpose: off the event loop.
        if await asyncio.to_thread(self.check_password, password, record.password_hash):
            return None
        if await self._try_pending(record, password):
            return None
        return "wrong user or password"

    async def _try_pending(self, record: ChargerRecord, password: str) -> bool:
        if self.passwords is None:
            return False
        pending = await self.passwords.pending_password_hash(record.id)
        if pending is None:
            return False
        if not await asyncio.to_thread(self.check_password, password, pending):
            return False
        if await self.passwords.promote(record.id, pending):
            log.info(
                "charger %s connected with its new password: the old one is gone", record.ocpp_id
            )
            if self.events is not None:
                self._spawn(
                    self.events.csms(
                        record.id,
                        record.ocpp_id,
                        se.PASSWORD_ROTATION_COMPLETED,
                        "connected with the new password; the old one no longer works",
                    )
                )
        return True

    def note(self, record: ChargerRecord, event_type: str, why: str) -> None:
        """A refusal as a CSMS security event, in the background (the refused charger
        waits for nothing), at most one per charger and type per throttle period."""
        if self.events is not None and self.events.refusal_due(record.id, event_type):
            self._spawn(self.events.csms(record.id, record.ocpp_id, event_type, why))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:  # a lost event must not break the handshake path
                log.exception("could not store a security event")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _host(ws: ServerConnection) -> str | None:
    address = ws.remote_address
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None
