"""TLS for the OCPP endpoint (``wss://``): security profiles 2 and 3.

Certificates and keys change without a restart: the listening context only hands each
handshake over to the current one (``ReloadingTls``), which is rebuilt whenever its
source (files, or the built-in CA in the database) says something changed.

The server context follows what the OCPP security profiles ask of a CSMS (1.6 Security
Whitepaper, 2.0.1 part A): TLS 1.2 or newer, and on TLS 1.2 only the ECDHE suites with
AES-GCM (TLS 1.3 suites are all AEAD). A client certificate is asked for but not
required at the TLS level: a profile-3 charger must present one that chains to the
configured CA, and the handshake checks that its subject's CN is the charger's id; a
profile-2 charger authenticates with HTTP Basic inside the tunnel instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# OCPP 1.6 Security Whitepaper 3.1 / 2.0.1 A00.FR.318: what a CSMS must support.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
    )
)


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """What a wss listener needs, as PEM text."""

    cert_chain: str  # the server's certificate, then its issuers
    key: str
    client_ca: str | None = None  # CA(s) a profile-3 charger's certificate chains to


class TlsSource(Protocol):
    async def stamp(self) -> Hashable:
        """Changes whenever ``load`` would give something new (cheap: polled)."""
        ...

    async def load(self) -> TlsMaterial: ...


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A source of PEM files (``--tls-cert``, ``--tls-key``, ``--tls-client-ca``)."""

    cert: Path  # the server's certificate chain (PEM)
    key: Path  # its private key (PEM)
    client_ca: Path | None = None  # CA(s) a profile-3 charger's certificate chains to

    def _paths(self) -> tuple[Path, ...]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())

    async def stamp(self) -> Hashable:
        def stats() -> tuple[tuple[int, int], ...]:
            return tuple((s.st_mtime_ns, s.st_size) for s in map(os.stat, self._paths()))

        return await asyncio.to_thread(stats)

    async def load(self) -> TlsMaterial:
        def read() -> TlsMaterial:
            client_ca = self.client_ca.read_text() if self.client_ca else None
            return TlsMaterial(self.cert.read_text(), self.key.read_text(), client_ca)

        return await asyncio.to_thread(read)


def server_context(material: TlsMaterial) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    # ssl loads a key from a file only: a private directory, gone right after.
    with tempfile.TemporaryDirectory(prefix="chargegrid-tls-") as folder:
        cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert.write_text(material.cert_chain)
        key.touch(mode=0o600)
        key.write_text(material.key)
        context.load_cert_chain(cert, key)
    if material.client_ca:
        context.load_verify_locations(cadata=material.client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


class ReloadingTls:
    """The listener's context: each handshake is handed to the newest context built from
    ``source`` (its SNI callback runs for every ClientHello, with or without a server
    name), so new certificates, keys and client CAs apply to the next handshake while
    open connections keep theirs."""

    def __init__(self, source: TlsSource, every_s: float = 30.0) -> None:
        self.source = source
        self.every_s = every_s
        self.current: ssl.SSLContext | None = None
        self.listening: ssl.SSLContext | None = None
        self._stamp: Hashable = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> ssl.SSLContext:
        self._stamp = await self.source.stamp()
        material = await self.source.load()
        self.current = server_context(material)
        self.listening = server_context(material)
        self.listening.sni_callback = self._hand_over
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="tls-reload")
        return self.listening

    def _hand_over(self, ssl_object: Any, _server_name: str | None, _ctx: Any) -> None:
        if self.current is not None:
            ssl_object.context = self.current

    async def refresh(self) -> bool:
        """Rebuild the context if the source changed; a broken new material is logged
        and the old context kept (a half-copied file must not take wss down)."""
        stamp = await self.source.stamp()
        if stamp == self._stamp:
            return False
        try:
            context = server_context(await self.source.load())
        except (OSError, ValueError, ssl.SSLError) as exc:
            log.error("TLS material changed but cannot be used, keeping the old: %s", exc)
            return False
        self.current, self._stamp = context, stamp
        log.info("TLS certificate reloaded")
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.refresh()
            except Exception:  # a database hiccup: try again next time
                log.exception("TLS reload check failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def peer_common_name(transport: Any) -> str | None:
    """The verified client certificate's subject CN on a TLS connection, else None."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def is_tls(transport: Any) -> bool:
    return transport is not None and transport.get_extra_info("ssl_object") is not None
